import type { FieldError } from "../http/index.ts";

const chaosErrorBrand = Symbol.for("bulwark.chaos.error");

export type ChaosErrorCode =
  | "BWK_ERR_CHAOS_DISABLED"
  | "BWK_ERR_CHAOS_VALIDATION"
  | "BWK_ERR_CHAOS_NOT_FOUND"
  | "BWK_ERR_CHAOS_CONFLICT"
  | "BWK_ERR_CHAOS_EXPERIMENT_INVALID";

export type { FieldError };

/** Base of every chaos error; `status` is what the HTTP APIs answer with. */
export class ChaosError extends Error {
  readonly [chaosErrorBrand] = true;
  readonly code: ChaosErrorCode;
  readonly status: number;
  readonly errors: FieldError[];

  constructor(
    code: ChaosErrorCode,
    status: number,
    message: string,
    options?: { cause?: unknown; errors?: FieldError[] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ChaosError";
    this.code = code;
    this.status = status;
    this.errors = options?.errors ?? [];
  }
}

export function isChaosError(e: unknown): e is ChaosError {
  return typeof e === "object" && e !== null && chaosErrorBrand in e;
}

/** Fault injection was asked for while fault mode is off: everything here is opt-in. */
export class ChaosDisabledError extends ChaosError {
  constructor(what: string) {
    super(
      "BWK_ERR_CHAOS_DISABLED",
      403,
      `${what} refused: fault mode is off (pass enabled: true, --enable or BULWARK_CHAOS_ENABLED=1)`,
    );
    this.name = "ChaosDisabledError";
  }
}

export class ChaosValidationError extends ChaosError {
  constructor(message: string, errors: FieldError[]) {
    super("BWK_ERR_CHAOS_VALIDATION", 400, message, { errors });
    this.name = "ChaosValidationError";
  }
}

export class ChaosNotFoundError extends ChaosError {
  constructor(message: string) {
    super("BWK_ERR_CHAOS_NOT_FOUND", 404, message);
    this.name = "ChaosNotFoundError";
  }
}

export class ChaosConflictError extends ChaosError {
  constructor(message: string) {
    super("BWK_ERR_CHAOS_CONFLICT", 409, message);
    this.name = "ChaosConflictError";
  }
}
