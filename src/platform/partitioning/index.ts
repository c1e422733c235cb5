/**
 * Where a key lives: FNV-1a over the key's UTF-16 code units, modulo the partition count. Stable across
 * processes and adapters, and cheap. The bus places messages with it and the stream processor keys state
 * with it, so a key's partition agrees from ingest through log to processor.
 */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}
