// The commerce bench's processes tell each other of every order over IPC. One process.send is a pipe write
// of 50–60 µs on the services' main thread (a CPU profile of --separate-processes, docs/BENCHMARKS.md commerce
// session 14), so a message per order made the harness a few percent of the load it measures. Items queued
// in one event-loop turn go as one message instead.

/** Returns a function that queues an item; the turn's items are sent together, as one array, from setImmediate. */
export function batchedSender<T>(send: (items: T[]) => void): (item: T) => void {
  let queued: T[] = [];
  return (item) => {
    queued.push(item);
    if (queued.length > 1) return;
    setImmediate(() => {
      const items = queued;
      queued = [];
      send(items);
    });
  };
}
