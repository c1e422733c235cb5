import { Worker } from "node:worker_threads";

// Plain CommonJS: an eval'd worker is not type-stripped.
const source = `
const { workerData } = require("node:worker_threads");
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(workerData.file, { timeout: 1000 });
setInterval(() => {
  try { db.exec("PRAGMA wal_checkpoint(PASSIVE)"); } catch {}
}, workerData.intervalMs);
`;

/**
 * Copies a SQLite file's write-ahead log back into the database from a worker thread, so the fsyncs of a
 * checkpoint never stall the event loop. (SQLite's own auto-checkpoint runs inside whichever commit
 * crosses the threshold: measured on the shared box at up to 1.9 s for one commit.) PASSIVE never blocks
 * the writer or readers. Checkpoints only move committed pages, so a crash at any moment loses nothing.
 */
export class BackgroundCheckpointer {
  readonly #worker: Worker;

  constructor(file: string, intervalMs = 100) {
    this.#worker = new Worker(source, { eval: true, workerData: { file, intervalMs } });
    this.#worker.unref();
    this.#worker.on("error", () => undefined); // the main connection's auto-checkpoint is the fallback
  }

  /**
   * Stops the worker, mid-checkpoint if need be (as safe as a crash there). Awaited directly: a stop that
   * waited on a message round trip with only unref'd handles let the event loop empty under a caller.
   */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
