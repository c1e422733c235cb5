import type { FastifyError, FastifyReply } from "fastify";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
const PROBLEM_BASE = "https://bulwark.dev/problems/";

export interface FieldError {
  /** Where the bad value is, e.g. "body.items[0].qty" or "headers.idempotency-key". */
  field: string;
  message: string;
}

/** An RFC 9457 problem details body. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/**
 * Thrown by handlers to answer with an RFC 9457 problem: `throw new HttpProblem(409, "conflict", "...")`.
 * `type` is a short slug turned into a URI under https://bulwark.dev/problems/.
 */
export class HttpProblem extends Error {
  readonly isHttpProblem = true;
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly extensions: Record<string, unknown>;

  constructor(
    status: number,
    type: string,
    title: string,
    detail?: string,
    extensions: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
    this.name = "HttpProblem";
    this.status = status;
    this.type = type;
    this.title = title;
    this.extensions = extensions;
  }

  toBody(instance?: string): ProblemBody {
    return {
      type: PROBLEM_BASE + this.type,
      title: this.title,
      status: this.status,
      ...(this.message !== this.title ? { detail: this.message } : {}),
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }
}

export function isHttpProblem(err: unknown): err is HttpProblem {
  return (
    typeof err === "object" && err !== null && (err as { isHttpProblem?: unknown }).isHttpProblem === true
  );
}

export function sendProblem(reply: FastifyReply, problem: HttpProblem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem.toBody(reply.request.url));
}

/** Turns Fastify's Ajv validation errors into field-level problems, e.g. "body.items[0].qty". */
export function validationProblem(error: FastifyError): HttpProblem {
  const context = error.validationContext ?? "body";
  const errors: FieldError[] = (error.validation ?? []).map((v) => {
    const params = v.params as Record<string, unknown>;
    let path = v.instancePath
      .split("/")
      .slice(1)
      .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg.replace(/~1/g, "/").replace(/~0/g, "~")}`))
      .join("");
    if (typeof params.missingProperty === "string") path += `.${params.missingProperty}`;
    if (typeof params.additionalProperty === "string") path += `.${params.additionalProperty}`;
    const message =
      typeof params.additionalProperty === "string"
        ? "is not an accepted field"
        : (v.message ?? "is invalid");
    return { field: `${context}${path}`, message };
  });
  const detail = errors.map((e) => `${e.field} ${e.message}`).join("; ") || error.message;
  return new HttpProblem(400, "validation", "The request is invalid", detail, { errors });
}
