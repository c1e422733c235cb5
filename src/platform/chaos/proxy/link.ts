import type { Socket } from "node:net";
import type { Clock } from "../../time/index.ts";
import { Channel, CLOSE, EOF, isChunk } from "./channel.ts";
import type { StreamDirection, ToxicConfig, ToxicKind, ToxicStub } from "./toxic.ts";

/** Pause reading from the source above this many buffered bytes; resume below the low mark. */
const HIGH_WATER_BYTES = 1 << 20;
const LOW_WATER_BYTES = 1 << 18;

/** A toxic that applies to this connection, with its per-connection state. */
export interface AppliedToxic {
  config: ToxicConfig;
  kind: ToxicKind;
  state: Record<string, number | undefined>;
}

/** What a link needs from the connection it belongs to. */
export interface LinkOwner {
  readonly clock: Clock;
  readonly random: () => number;
  /** Closes both sides. */
  destroy(error?: unknown): void;
  /** Resets `socket` with a TCP RST, then closes the other side. */
  reset(socket: Socket): void;
  /** The link delivered end-of-stream to its destination. */
  finished(direction: StreamDirection): void;
}

/**
 * One direction of one proxied connection: source socket → toxic stages → destination socket. Changing the
 * toxics interrupts every stage, gathers what they held, and starts a new pipeline in front of it.
 */
export class Link {
  readonly direction: StreamDirection;
  readonly #to: Socket;
  readonly #owner: LinkOwner;
  readonly #source = new Channel();
  #between: Channel[] = [];
  #stages: Promise<void>[] = [];
  #interrupt = new AbortController();
  #rebuilding: Promise<void> = Promise.resolve();

  constructor(direction: StreamDirection, from: Socket, to: Socket, owner: LinkOwner) {
    this.direction = direction;
    this.#to = to;
    this.#owner = owner;
    from.on("data", (data: Buffer) => {
      this.#source.push({ data, arrivedAt: owner.clock.monotonic() });
      if (this.#source.bufferedBytes > HIGH_WATER_BYTES) from.pause();
    });
    from.on("end", () => this.#source.push(EOF));
    this.#source.onDrain = () => {
      if (from.isPaused() && this.#source.bufferedBytes < LOW_WATER_BYTES) from.resume();
    };
  }

  start(toxics: AppliedToxic[]): void {
    this.#build(toxics);
  }

  /** Re-plumbs the pipeline with a new toxic list, losing no data in flight. */
  rebuild(toxics: AppliedToxic[]): Promise<void> {
    this.#rebuilding = this.#rebuilding.then(async () => {
      this.#interrupt.abort();
      await Promise.all(this.#stages);
      // The oldest data sits nearest the sink; put it back at the head of the source in order.
      const held = this.#between.toReversed().flatMap((channel) => channel.drain());
      this.#source.unshift(...held);
      this.#build(toxics);
    });
    return this.#rebuilding;
  }

  stop(): void {
    this.#interrupt.abort();
  }

  #build(toxics: AppliedToxic[]): void {
    this.#interrupt = new AbortController();
    const interrupt = this.#interrupt.signal;
    this.#between = [];
    this.#stages = [];
    let input = this.#source;
    for (const toxic of toxics) {
      const output = new Channel();
      const stub: ToxicStub = {
        input,
        output,
        interrupt,
        clock: this.#owner.clock,
        random: this.#owner.random,
        state: toxic.state,
        close: () => output.push(CLOSE),
        reset: () => this.#owner.reset(this.#to),
      };
      this.#stages.push(toxic.kind.pipe(toxic.config.attributes, stub).catch((e) => this.#owner.destroy(e)));
      this.#between.push(output);
      input = output;
    }
    this.#stages.push(this.#sink(input, interrupt));
  }

  async #sink(input: Channel, interrupt: AbortSignal): Promise<void> {
    for (;;) {
      const item = await input.take(interrupt);
      if (item === undefined || this.#to.destroyed) return;
      if (isChunk(item)) {
        if (!this.#to.write(item.data)) await writable(this.#to, interrupt);
      } else if (item === EOF) {
        this.#to.end(() => this.#owner.finished(this.direction));
      } else {
        this.#to.end(() => this.#owner.destroy());
        return;
      }
    }
  }
}

function writable(socket: Socket, interrupt: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      interrupt.removeEventListener("abort", done);
      resolve();
    };
    socket.once("drain", done);
    socket.once("close", done);
    interrupt.addEventListener("abort", done, { once: true });
  });
}
