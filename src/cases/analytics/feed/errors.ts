const feedErrorBrand = Symbol.for("bulwark.analytics.feed.error");

export type FeedErrorCode = "BWK_ERR_FEED_INVALID_OPTION" | "BWK_ERR_FEED_BAD_FRAME";

export class FeedError extends Error {
  readonly [feedErrorBrand] = true;
  readonly code: FeedErrorCode;

  constructor(code: FeedErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FeedError";
    this.code = code;
  }
}

export function isFeedError(e: unknown): e is FeedError {
  return typeof e === "object" && e !== null && feedErrorBrand in e;
}

export function feedOptionError(name: string, value: unknown, expected: string): FeedError {
  return new FeedError(
    "BWK_ERR_FEED_INVALID_OPTION",
    `invalid ${name}: ${JSON.stringify(value)} (expected ${expected})`,
  );
}
