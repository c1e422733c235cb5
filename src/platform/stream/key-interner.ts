import type { Checkpointable } from "./types.ts";

export interface KeyInternerSnapshot {
  keys: string[];
}

/**
 * Maps string keys to dense ids 0..n-1, so operators index typed arrays instead of hashing strings.
 * Ids are local to one interner: checkpoint it with the operators whose state uses its ids.
 */
export class KeyInterner implements Checkpointable<KeyInternerSnapshot> {
  #ids = new Map<string, number>();
  #keys: string[] = [];

  get size(): number {
    return this.#keys.length;
  }

  intern(key: string): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#keys.length;
      this.#ids.set(key, id);
      this.#keys.push(key);
    }
    return id;
  }

  /** Interns a message's dictionary once, so each element maps its local index with one array read. */
  internAll(keys: readonly string[]): Int32Array {
    const ids = new Int32Array(keys.length);
    for (let i = 0; i < keys.length; i++) ids[i] = this.intern(keys[i]!);
    return ids;
  }

  idOf(key: string): number | undefined {
    return this.#ids.get(key);
  }

  keyOf(id: number): string {
    const key = this.#keys[id];
    if (key === undefined) throw new RangeError(`unknown key id ${id}`);
    return key;
  }

  snapshot(): KeyInternerSnapshot {
    return { keys: [...this.#keys] };
  }

  restore(state: KeyInternerSnapshot): void {
    this.#keys = [...state.keys];
    this.#ids = new Map(this.#keys.map((k, i) => [k, i]));
  }
}
