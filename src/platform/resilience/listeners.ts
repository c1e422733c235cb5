/** A tiny event source: emitting with nobody listening costs one length check. */
export class Listeners<E> {
  #fns: Array<(event: E) => void> = [];

  get size(): number {
    return this.#fns.length;
  }

  /** Adds a listener; the returned function removes it. */
  add(fn: (event: E) => void): () => void {
    this.#fns = [...this.#fns, fn];
    return () => {
      this.#fns = this.#fns.filter((f) => f !== fn);
    };
  }

  emit(event: E): void {
    // Listeners are observers: one that throws must not break the call path or its siblings.
    for (const fn of this.#fns) {
      try {
        fn(event);
      } catch {}
    }
  }
}
