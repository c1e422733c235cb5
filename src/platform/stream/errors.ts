const streamErrorBrand = Symbol.for("bulwark.stream.error");

export type StreamErrorCode = "BWK_ERR_STREAM_INVALID_OPTION" | "BWK_ERR_STREAM_INVALID_SNAPSHOT";

export class StreamError extends Error {
  readonly [streamErrorBrand] = true;
  readonly code: StreamErrorCode;

  constructor(code: StreamErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StreamError";
    this.code = code;
  }
}

export function isStreamError(e: unknown): e is StreamError {
  return typeof e === "object" && e !== null && streamErrorBrand in e;
}

export function invalidOption(name: string, value: unknown, expected: string): StreamError {
  return new StreamError(
    "BWK_ERR_STREAM_INVALID_OPTION",
    `invalid ${name}: ${JSON.stringify(value)} (expected ${expected})`,
  );
}
