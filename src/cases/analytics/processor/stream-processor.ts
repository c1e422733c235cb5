import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { Counter, Histogram, type Registry } from "prom-client";
import type { Bus, LogDriver, Subscription } from "../../../platform/messaging/index.ts";
import type { Store } from "../../../platform/storage/index.ts";
import { type Clock, systemClock, type TimerHandle } from "../../../platform/time/index.ts";
import type { AnalyticsConfig } from "../config.ts";
import { PROCESSOR_GROUP, TOPICS } from "../events.ts";
import type { ShardedStore } from "../store/index.ts";
import { CheckpointStore } from "./checkpoints.ts";
import { PartitionTask } from "./partition-task.ts";

export interface StreamProcessorOptions {
  config: AnalyticsConfig;
  /** Assignment (the consumer group's leases) and publishing window events and anomalies. */
  bus: Bus;
  /** The same log as the bus's: the processor reads trades with its own cursors, committed after checkpoints. */
  log: LogDriver;
  /** The main store: checkpoints. */
  store: Store;
  shards: ShardedStore;
  logger: Logger;
  registry?: Registry;
  clock?: Clock;
  group?: string;
  member?: string;
  /** How often the processor compares its assigned partitions with the tasks it runs. Default 100 ms. */
  assignmentPollMs?: number;
  /** Messages (frames) per read. Default 64. */
  readBatch?: number;
  /** A partition with no data still ticks (idle watermark, checkpoint) this often. Default 100 ms. */
  idleTickMs?: number;
  /** Longest time latest trades wait for their upsert while data keeps coming. Default 50 ms. */
  flushIntervalMs?: number;
}

/**
 * The stream processor: a member of the consumer group on the trade partitions. The bus's group membership
 * (leases, rebalancing when a member joins, stops or dies) decides which partitions this instance works;
 * each one runs as a {@link PartitionTask} with its own checkpointed pipeline.
 */
export class StreamProcessor {
  readonly member: string;
  readonly group: string;
  readonly #o: StreamProcessorOptions;
  readonly #clock: Clock;
  readonly #checkpoints: CheckpointStore;
  readonly #tasks = new Map<number, PartitionTask>();
  readonly #metrics: ProcessorMetrics | undefined;
  #subscription: Subscription | undefined;
  #timer: TimerHandle | undefined;
  #reconciling: Promise<void> = Promise.resolve();
  #stopped = false;
  processed = 0;

  constructor(options: StreamProcessorOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.member = options.member ?? `proc-${randomUUID().slice(0, 8)}`;
    this.group = options.group ?? PROCESSOR_GROUP;
    this.#checkpoints = new CheckpointStore(options.store);
    this.#metrics = options.registry ? processorMetrics(options.registry) : undefined;
  }

  static async prepare(store: Store): Promise<void> {
    await CheckpointStore.migrate(store);
  }

  /** Partitions this instance is working now. */
  partitions(): number[] {
    return [...this.#tasks.keys()].sort((a, b) => a - b);
  }

  /** The checkpoint rows of the group (tests and operators). */
  checkpoints() {
    return this.#checkpoints.read(this.group);
  }

  async start(): Promise<void> {
    await CheckpointStore.migrate(this.#o.store);
    this.#subscription = this.#o.bus.subscribe({
      topic: TOPICS.assignment,
      group: this.group,
      member: this.member,
      // Nothing is ever published there; the subscription exists for its partition assignment.
      handler: () => {},
    });
    this.#schedule();
  }

  /**
   * Checkpoints and closes the cursors before the leases go, so the next owner starts from our last word.
   * `checkpoint: false` abandons the state since the last checkpoint instead, as a crash would (tests).
   */
  async stop(options: { checkpoint?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    await this.#reconciling;
    await Promise.all([...this.#tasks.values()].map((t) => t.stop(options)));
    this.#tasks.clear();
    await this.#subscription?.stop();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#reconciling = this.#reconcile()
        .catch((err: unknown) => this.#o.logger.error({ err }, "processor rebalance failed; retrying"))
        .finally(() => this.#schedule());
    }, this.#o.assignmentPollMs ?? 100);
  }

  async #reconcile(): Promise<void> {
    const assigned = new Set(this.#subscription?.assigned() ?? []);
    for (const [partition, task] of this.#tasks) {
      if (!assigned.has(partition) || task.fenced) {
        this.#tasks.delete(partition);
        await task.stop({ checkpoint: !task.fenced });
        this.#o.logger.info({ partition, member: this.member }, "partition released");
      }
    }
    for (const partition of assigned) {
      if (this.#tasks.has(partition) || this.#stopped) continue;
      const task = new PartitionTask({
        partition,
        group: this.group,
        owner: this.member,
        config: this.#o.config,
        log: this.#o.log,
        checkpoints: this.#checkpoints,
        shards: this.#o.shards,
        clock: this.#clock,
        logger: this.#o.logger,
        publish: (items) => this.#o.bus.publishBatch(items),
        readBatch: this.#o.readBatch ?? 64,
        idleTickMs: this.#o.idleTickMs ?? 100,
        flushIntervalMs: this.#o.flushIntervalMs ?? 50,
        onProcessed: (n) => {
          this.processed += n;
          this.#metrics?.processed.inc(n);
        },
        onCheckpoint: (ms, bytes) => {
          this.#metrics?.checkpointSeconds.observe(ms / 1_000);
          this.#metrics?.checkpointBytes.observe(bytes);
        },
      });
      this.#tasks.set(partition, task);
      try {
        await task.start();
      } catch (err) {
        this.#tasks.delete(partition);
        throw err;
      }
      task.done.catch((err: unknown) => {
        this.#o.logger.error({ err, partition }, "partition task failed; it restarts from its checkpoint");
        if (this.#tasks.get(partition) === task) this.#tasks.delete(partition);
        void task.stop({ checkpoint: false });
      });
      this.#o.logger.info({ partition, member: this.member, offset: task.offset }, "partition taken");
    }
  }
}

interface ProcessorMetrics {
  processed: Counter;
  checkpointSeconds: Histogram;
  checkpointBytes: Histogram;
}

function processorMetrics(registry: Registry): ProcessorMetrics {
  const existing = registry.getSingleMetric("bulwark_analytics_trades_processed_total");
  if (existing) {
    return {
      processed: existing as Counter,
      checkpointSeconds: registry.getSingleMetric("bulwark_analytics_checkpoint_seconds") as Histogram,
      checkpointBytes: registry.getSingleMetric("bulwark_analytics_checkpoint_bytes") as Histogram,
    };
  }
  return {
    processed: new Counter({
      name: "bulwark_analytics_trades_processed_total",
      help: "Trades the stream processor fed into its pipelines",
      registers: [registry],
    }),
    checkpointSeconds: new Histogram({
      name: "bulwark_analytics_checkpoint_seconds",
      help: "Time to save one partition's checkpoint",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    checkpointBytes: new Histogram({
      name: "bulwark_analytics_checkpoint_bytes",
      help: "Size of one partition's checkpoint",
      buckets: [1e3, 1e4, 1e5, 1e6, 1e7, 1e8],
      registers: [registry],
    }),
  };
}
