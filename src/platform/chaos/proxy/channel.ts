/** A piece of stream data, stamped with its arrival time so latency is measured from arrival, not per stage. */
export interface Chunk {
  data: Buffer;
  arrivedAt: number;
}

/** End of stream: the source half-closed. */
export const EOF = Symbol("eof");
/** A toxic closed the connection: the sink flushes what came before, then closes both sides. */
export const CLOSE = Symbol("close");

export type Item = Chunk | typeof EOF | typeof CLOSE;

export function isChunk(item: Item): item is Chunk {
  return typeof item === "object";
}

/**
 * An unbounded FIFO between two pipeline stages, the Node stand-in for a Go channel. `take` waits for an item
 * or for the interrupt signal; interrupted stages leave unread items here so a rebuilt pipeline keeps them.
 */
export class Channel {
  #items: Item[] = [];
  #bytes = 0;
  #waiter: (() => void) | undefined;
  /** Called whenever buffered bytes drop, so a paused source can resume. */
  onDrain: (() => void) | undefined;

  get bufferedBytes(): number {
    return this.#bytes;
  }

  push(item: Item): void {
    this.#items.push(item);
    if (isChunk(item)) this.#bytes += item.data.length;
    this.#wake();
  }

  /** Puts items back at the head, oldest first, e.g. what an interrupted stage still held. */
  unshift(...items: Item[]): void {
    this.#items.unshift(...items);
    for (const item of items) if (isChunk(item)) this.#bytes += item.data.length;
    this.#wake();
  }

  /** Removes and returns everything buffered, oldest first. */
  drain(): Item[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    this.onDrain?.();
    return items;
  }

  /** The next item, or undefined when `signal` fires first. */
  async take(signal: AbortSignal): Promise<Item | undefined> {
    while (this.#items.length === 0) {
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          this.#waiter = undefined;
          resolve();
        };
        this.#waiter = done;
        signal.addEventListener("abort", done, { once: true });
      });
    }
    if (signal.aborted) return undefined;
    const item = this.#items.shift()!;
    if (isChunk(item)) {
      this.#bytes -= item.data.length;
      this.onDrain?.();
    }
    return item;
  }

  #wake(): void {
    this.#waiter?.();
  }
}
