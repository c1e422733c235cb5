import { Counter, Gauge, type Registry } from "prom-client";

/** Counters and the lag gauge, registered once per registry (two buses on one registry share them). */
export interface MessagingMetrics {
  published(topic: string, count: number): void;
  consumed(topic: string, group: string, count: number): void;
  deadLettered(topic: string, group: string): void;
  /** Registers a lag source polled when the registry is scraped; returns its unregister function. */
  watchLag(topic: string, group: string, lag: () => Promise<number>): () => void;
}

const noop: MessagingMetrics = {
  published() {},
  consumed() {},
  deadLettered() {},
  watchLag: () => () => {},
};

const lagSources = new WeakMap<
  Registry,
  Map<string, { topic: string; group: string; lag: () => Promise<number> }>
>();

export function messagingMetrics(registry: Registry | undefined): MessagingMetrics {
  if (!registry) return noop;
  const counter = (name: string, help: string, labelNames: string[]) =>
    (registry.getSingleMetric(name) as Counter<string> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] });
  const published = counter("bulwark_messaging_published_total", "Messages published", ["topic"]);
  const consumed = counter("bulwark_messaging_consumed_total", "Messages processed and acked", [
    "topic",
    "group",
  ]);
  const dead = counter("bulwark_messaging_dead_lettered_total", "Messages sent to a dead-letter topic", [
    "topic",
    "group",
  ]);
  let sources = lagSources.get(registry);
  if (!sources) {
    const owned = new Map<string, { topic: string; group: string; lag: () => Promise<number> }>();
    sources = owned;
    lagSources.set(registry, owned);
    new Gauge({
      name: "bulwark_messaging_consumer_lag",
      help: "Messages published but not yet committed by the consumer group",
      labelNames: ["topic", "group"],
      registers: [registry],
      async collect() {
        this.reset();
        await Promise.all(
          [...owned.values()].map(async (s) => {
            this.set({ topic: s.topic, group: s.group }, await s.lag().catch(() => Number.NaN));
          }),
        );
      },
    });
  }
  const watched = sources;
  return {
    published: (topic, count) => published.inc({ topic }, count),
    consumed: (topic, group, count) => consumed.inc({ topic, group }, count),
    deadLettered: (topic, group) => dead.inc({ topic, group }),
    watchLag(topic, group, lag) {
      const key = `${topic}/${group}`;
      watched.set(key, { topic, group, lag });
      return () => watched.delete(key);
    },
  };
}
