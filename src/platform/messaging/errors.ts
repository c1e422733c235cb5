export type MessagingErrorCode =
  | "BWK_ERR_MESSAGING_INVALID_EVENT"
  | "BWK_ERR_MESSAGING_UNKNOWN_TOPIC"
  | "BWK_ERR_MESSAGING_INVALID_NAME"
  | "BWK_ERR_MESSAGING_CLOSED"
  | "BWK_ERR_MESSAGING_PUBLISH_FAILED"
  | "BWK_ERR_MESSAGING_READ_IN_PROGRESS";

const brand = Symbol.for("bulwark.messaging.error");

export class MessagingError extends Error {
  readonly code: MessagingErrorCode;
  readonly [brand] = true;

  constructor(code: MessagingErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MessagingError";
    this.code = code;
  }
}

/** An event that does not match its registered schema, or whose (type, version) is unknown. */
export class InvalidEventError extends MessagingError {
  readonly reason: string;
  constructor(type: string, version: number, reason: string, options?: ErrorOptions) {
    super("BWK_ERR_MESSAGING_INVALID_EVENT", `invalid event ${type}@v${version}: ${reason}`, options);
    this.name = "InvalidEventError";
    this.reason = reason;
  }
}

export function isMessagingError(e: unknown): e is MessagingError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[brand] === true;
}

export function isInvalidEventError(e: unknown): e is InvalidEventError {
  return isMessagingError(e) && e.code === "BWK_ERR_MESSAGING_INVALID_EVENT";
}
