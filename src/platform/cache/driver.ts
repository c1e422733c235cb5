/**
 * What a cache backend does: raw, serialized values under keys already scoped to one namespace. The core
 * ({@link createCache}) adds JSON encoding, single-flight, metrics and invalidation bookkeeping on top, so an
 * adapter writes only the happy path.
 */
export interface CacheDriver {
  /** The backend is shared by several processes and offers a short lock against cross-process stampedes. */
  readonly supportsLock: boolean;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number, tags: readonly string[]): Promise<void>;
  /** Resolves true when the key existed. */
  delete(key: string): Promise<boolean>;
  /** Resolves to the number of entries removed. */
  deleteByPrefix(prefix: string): Promise<number>;
  /** Entries carrying any of the tags, in one round trip to the backend; resolves to how many it removed. */
  deleteByTags(tags: readonly string[]): Promise<number>;
  /** Takes the loader lock of `key` for `ttlMs`; resolves to a release token, or undefined when held elsewhere. */
  lock?(key: string, ttlMs: number): Promise<string | undefined>;
  unlock?(key: string, token: string): Promise<void>;
  close(): Promise<void>;
}
