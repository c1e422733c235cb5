const supervisorErrorBrand = Symbol.for("bulwark.supervisor.error");

export type SupervisorErrorCode =
  | "BWK_ERR_SUPERVISOR_UNKNOWN_TARGET"
  | "BWK_ERR_SUPERVISOR_NOT_RUNNING"
  | "BWK_ERR_SUPERVISOR_BAD_SPEC"
  | "BWK_ERR_SUPERVISOR_UNREACHABLE";

export class SupervisorError extends Error {
  readonly [supervisorErrorBrand] = true;
  readonly code: SupervisorErrorCode;

  constructor(code: SupervisorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SupervisorError";
    this.code = code;
  }
}

export function isSupervisorError(e: unknown): e is SupervisorError {
  return typeof e === "object" && e !== null && supervisorErrorBrand in e;
}
