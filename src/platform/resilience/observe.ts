type OnOk<A> = (arg: A) => void;
type OnErr<A> = (arg: A, error: unknown) => void;
type AnyOk = OnOk<never>;
type AnyErr = OnErr<never>;

/**
 * The observers of one promise, called from a single `.then`. The stages of a composed policy all watch the
 * same promise (the call's own, returned unchanged through every pass-through stage): one reaction for all of
 * them instead of one each saves a derived promise and a reaction record per stage per call. Three inline
 * slots cover the built-in stack without allocating arrays, and a fired set goes back to a pool with its two
 * prebound reactions, so a call usually allocates nothing here.
 */
class Observers {
  fired = false;
  count = 1;
  ok0: AnyOk;
  err0: AnyErr;
  arg0: unknown;
  ok1: AnyOk | undefined = undefined;
  err1: AnyErr | undefined = undefined;
  arg1: unknown = undefined;
  ok2: AnyOk | undefined = undefined;
  err2: AnyErr | undefined = undefined;
  arg2: unknown = undefined;
  more: Array<[AnyOk, AnyErr, unknown]> | undefined = undefined;

  constructor(ok: AnyOk, err: AnyErr, arg: unknown) {
    this.ok0 = ok;
    this.err0 = err;
    this.arg0 = arg;
  }

  reuse(ok: AnyOk, err: AnyErr, arg: unknown): this {
    this.fired = false;
    this.count = 1;
    this.ok0 = ok;
    this.err0 = err;
    this.arg0 = arg;
    return this;
  }

  /** Drops references to what it observed (so nothing is kept alive) and returns to the pool. */
  #recycle(): void {
    this.arg0 = this.arg1 = this.arg2 = undefined;
    this.ok1 = this.ok2 = undefined;
    this.err1 = this.err2 = undefined;
    this.more = undefined;
    if (pool.length < POOL_MAX) pool.push(this);
  }

  add(ok: AnyOk, err: AnyErr, arg: unknown): void {
    const n = this.count++;
    if (n === 1) {
      this.ok1 = ok;
      this.err1 = err;
      this.arg1 = arg;
    } else if (n === 2) {
      this.ok2 = ok;
      this.err2 = err;
      this.arg2 = arg;
    } else {
      this.more ??= [];
      this.more.push([ok, err, arg]);
    }
  }

  readonly onOk = (): void => {
    this.fired = true;
    (this.ok0 as OnOk<unknown>)(this.arg0);
    if (this.count > 1) (this.ok1 as OnOk<unknown>)(this.arg1);
    if (this.count > 2) (this.ok2 as OnOk<unknown>)(this.arg2);
    if (this.more) for (const [ok, , arg] of this.more) (ok as OnOk<unknown>)(arg);
    this.#recycle();
  };

  readonly onErr = (error: unknown): void => {
    this.fired = true;
    (this.err0 as OnErr<unknown>)(this.arg0, error);
    if (this.count > 1) (this.err1 as OnErr<unknown>)(this.arg1, error);
    if (this.count > 2) (this.err2 as OnErr<unknown>)(this.arg2, error);
    if (this.more) for (const [, err, arg] of this.more) (err as OnErr<unknown>)(arg, error);
    this.#recycle();
  };
}

const POOL_MAX = 1024;
const pool: Observers[] = [];
let lastPromise: Promise<unknown> | undefined;
let lastObservers: Observers | undefined;

/**
 * Calls `ok(arg)` or `err(arg, error)` when `promise` settles, like `promise.then(() => ok(arg), (e) =>
 * err(arg, e))`, in registration order. Observers registered on the same promise before it settles share one
 * reaction; one registered after that gets its own, so none is ever missed. Observers must not throw.
 */
export function observe<A>(promise: Promise<unknown>, ok: OnOk<A>, err: OnErr<A>, arg: A): void {
  const observers = lastObservers;
  if (promise === lastPromise && observers !== undefined && !observers.fired) {
    observers.add(ok as AnyOk, err as AnyErr, arg);
    return;
  }
  const fresh =
    pool.pop()?.reuse(ok as AnyOk, err as AnyErr, arg) ?? new Observers(ok as AnyOk, err as AnyErr, arg);
  lastPromise = promise;
  lastObservers = fresh;
  promise.then(fresh.onOk, fresh.onErr);
}
