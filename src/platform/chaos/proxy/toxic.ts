import type { TSchema } from "@sinclair/typebox";
import type { Clock } from "../../time/index.ts";
import type { Channel } from "./channel.ts";

/** Which way a toxic acts: `upstream` is client→server, `downstream` (the default) is server→client. */
export type StreamDirection = "upstream" | "downstream";

/** Toxiproxy's toxic shape, as the API and the programmatic calls take and return it. */
export interface ToxicConfig {
  name: string;
  type: string;
  stream: StreamDirection;
  /** Probability, 0..1, that the toxic applies to a given connection. */
  toxicity: number;
  attributes: Record<string, number>;
}

/**
 * One toxic's view of one direction of one connection: read `input`, write `output`, stop when `interrupt`
 * fires (the pipeline is being rebuilt) after putting back anything still held.
 */
export interface ToxicStub {
  readonly input: Channel;
  readonly output: Channel;
  readonly interrupt: AbortSignal;
  readonly clock: Clock;
  readonly random: () => number;
  /** Per-connection state of this toxic that survives pipeline rebuilds (bytes sent, timers started). */
  readonly state: Record<string, number | undefined>;
  /** Closes the whole connection. */
  close(): void;
  /** Closes the connection with a TCP RST towards this stream's destination. */
  reset(): void;
}

/** A toxic type: its attribute schema and the stage it runs per connection. */
export interface ToxicKind {
  readonly type: string;
  /** TypeBox schema of `attributes`; every attribute has a default, as in Toxiproxy. */
  readonly attributes: TSchema;
  /** Cross-field checks the schema cannot express; returns field errors. */
  check?(attributes: Record<string, number>): { field: string; message: string }[];
  pipe(attributes: Record<string, number>, stub: ToxicStub): Promise<void>;
}

/** Waits `ms` on the stub's clock; false when the pipeline was interrupted first. */
export function pause(stub: ToxicStub, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(!stub.interrupt.aborted);
  return stub.clock.sleep(ms, stub.interrupt).then(
    () => true,
    () => false,
  );
}
