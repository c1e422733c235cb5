import { propagation, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Registry } from "prom-client";
import { afterAll, describe, expect, it } from "vitest";
import {
  constantBackoff,
  createBus,
  HEADER,
  MemoryLogDriver,
} from "../../../src/platform/messaging/index.ts";
import { eventually } from "../../support/services.ts";
import { collect, Numbered, registry, topicName } from "./bus-contract.ts";

describe("messaging telemetry", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  afterAll(async () => {
    trace.disable();
    propagation.disable();
    await provider.shutdown();
  });

  it("carries traceparent in headers and links the process span to the send span", async () => {
    const bus = createBus({
      driver: new MemoryLogDriver(),
      registry: registry(),
      system: "memory",
      heartbeatMs: 20,
    });
    const topic = topicName();
    await bus.declareTopic({ name: topic, partitions: 1 });
    await bus.publish(topic, "k", Numbered.create({ key: "k", n: 1 }));
    const { received, subscription } = collect(bus, { topic, group: "g" });
    await eventually(() => received.length === 1);
    await subscription.stop();
    await bus.close();
    const traceparent = received[0]!.headers[HEADER.traceparent]!;
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const spans = exporter.getFinishedSpans();
    const send = spans.find((s) => s.name === `send ${topic}`)!;
    const processed = spans.find((s) => s.name === `process ${topic}`)!;
    expect(send.attributes).toMatchObject({
      "messaging.system.name": "memory",
      "messaging.destination.name": topic,
      "messaging.operation.type": "send",
    });
    expect(processed.attributes["messaging.operation.type"]).toBe("process");
    expect(processed.links[0]!.context.spanId).toBe(send.spanContext().spanId);
    expect(traceparent.split("-")[2]).toBe(send.spanContext().spanId);
  });

  it("counts published, consumed and dead-lettered messages and exports the lag", async () => {
    const metrics = new Registry();
    const bus = createBus({ driver: new MemoryLogDriver(), registry: registry(), metrics, heartbeatMs: 20 });
    const topic = topicName();
    await bus.declareTopic({ name: topic, partitions: 2 });
    const gate = { open: false };
    const { received, subscription } = collect(bus, {
      topic,
      group: "g",
      maxAttempts: 2,
      backoff: constantBackoff(1),
      handler: async (m) => {
        if (m.key === "poison") throw new Error("poison");
        await eventually(() => gate.open);
      },
    });
    await bus.publishBatch(
      Array.from({ length: 10 }, (_, n) => ({
        topic,
        key: `k${n}`,
        event: Numbered.create({ key: `k${n}`, n }),
      })),
    );
    const lagWhileBlocked = async () =>
      (await metrics.getSingleMetric("bulwark_messaging_consumer_lag")!.get()).values;
    await eventually(async () =>
      (await lagWhileBlocked()).some((v) => v.value === 10 && v.labels.group === "g"),
    );
    gate.open = true;
    await bus.publish(topic, "poison", Numbered.create({ key: "poison", n: 99 }));
    await eventually(() => received.length === 10);
    await eventually(async () =>
      (await metrics.metrics()).includes(
        `bulwark_messaging_dead_lettered_total{topic="${topic}",group="g"} 1`,
      ),
    );
    await eventually(async () =>
      (await metrics.metrics()).includes(`bulwark_messaging_consumed_total{topic="${topic}",group="g"} 10`),
    );
    const text = await metrics.metrics();
    expect(text).toContain(`bulwark_messaging_published_total{topic="${topic}"} 11`);
    expect(text).toContain(`bulwark_messaging_consumer_lag{topic="${topic}",group="g"} 0`);
    await subscription.stop();
    await bus.close();
  });
});
