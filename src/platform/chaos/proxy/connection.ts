import { connect, type Socket } from "node:net";
import type { Clock } from "../../time/index.ts";
import { type AppliedToxic, Link, type LinkOwner } from "./link.ts";
import type { StreamDirection, ToxicConfig, ToxicKind } from "./toxic.ts";

export interface ConnectionOptions {
  client: Socket;
  upstream: { host: string; port: number };
  clock: Clock;
  random: () => number;
  onClose(connection: Connection): void;
}

interface ToxicRoll {
  toxicity: number;
  applies: boolean;
  state: Record<string, number | undefined>;
}

/** A client connection and its upstream twin, with one toxic pipeline per direction. */
export class Connection implements LinkOwner {
  readonly clock: Clock;
  readonly random: () => number;
  readonly #client: Socket;
  readonly #upstream: Socket;
  readonly #links: Record<StreamDirection, Link>;
  readonly #rolls = new Map<string, ToxicRoll>();
  readonly #finished = new Set<StreamDirection>();
  readonly #onClose: (connection: Connection) => void;
  #destroyed = false;

  constructor(options: ConnectionOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.#onClose = options.onClose;
    this.#client = options.client;
    this.#upstream = connect({ ...options.upstream, allowHalfOpen: true });
    for (const socket of [this.#client, this.#upstream]) {
      socket.setNoDelay(true);
      socket.on("error", (e) => this.destroy(e));
      socket.on("close", () => {
        if (this.#client.destroyed && this.#upstream.destroyed) this.destroy();
      });
    }
    this.#links = {
      upstream: new Link("upstream", this.#client, this.#upstream, this),
      downstream: new Link("downstream", this.#upstream, this.#client, this),
    };
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  start(toxics: readonly ToxicConfig[], kinds: ReadonlyMap<string, ToxicKind>): void {
    for (const link of Object.values(this.#links)) link.start(this.#applied(link.direction, toxics, kinds));
  }

  /** Re-plumbs both directions after a toxic was added, changed or removed. */
  async retoxify(toxics: readonly ToxicConfig[], kinds: ReadonlyMap<string, ToxicKind>): Promise<void> {
    for (const name of this.#rolls.keys()) {
      if (!toxics.some((t) => t.name === name)) this.#rolls.delete(name);
    }
    await Promise.all(
      Object.values(this.#links).map((link) => link.rebuild(this.#applied(link.direction, toxics, kinds))),
    );
  }

  finished(direction: StreamDirection): void {
    this.#finished.add(direction);
    if (this.#finished.size === 2) this.destroy();
  }

  reset(socket: Socket): void {
    if (!socket.destroyed) socket.resetAndDestroy();
    this.destroy();
  }

  destroy(_error?: unknown): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const link of Object.values(this.#links)) link.stop();
    this.#client.destroy();
    this.#upstream.destroy();
    this.#onClose(this);
  }

  /** Toxicity is rolled once per connection and toxic; a changed toxicity rolls again. */
  #applied(
    direction: StreamDirection,
    toxics: readonly ToxicConfig[],
    kinds: ReadonlyMap<string, ToxicKind>,
  ): AppliedToxic[] {
    const applied: AppliedToxic[] = [];
    for (const config of toxics) {
      if (config.stream !== direction) continue;
      let roll = this.#rolls.get(config.name);
      if (!roll || roll.toxicity !== config.toxicity) {
        roll = {
          toxicity: config.toxicity,
          applies: this.random() < config.toxicity,
          state: roll?.state ?? {},
        };
        this.#rolls.set(config.name, roll);
      }
      const kind = kinds.get(config.type);
      if (roll.applies && kind) applied.push({ config, kind, state: roll.state });
    }
    return applied;
  }
}
