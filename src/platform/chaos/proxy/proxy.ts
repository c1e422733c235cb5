import { createServer, type Server, type Socket } from "node:net";
import type { Clock } from "../../time/index.ts";
import { formatHostPort, type HostPort } from "./address.ts";
import { Connection } from "./connection.ts";
import type { ToxicConfig, ToxicKind } from "./toxic.ts";

/** Toxiproxy's proxy shape. */
export interface ProxyConfig {
  name: string;
  /** `host:port`; port 0 picks a free one, and the bound address is reported back. */
  listen: string;
  upstream: string;
  enabled: boolean;
}

export interface ProxyInfo extends ProxyConfig {
  toxics: ToxicConfig[];
}

export interface ProxyRuntimeOptions {
  name: string;
  listen: HostPort;
  upstream: HostPort;
  clock: Clock;
  random: () => number;
  kinds: ReadonlyMap<string, ToxicKind>;
}

/** One listening proxy: accepts clients, dials the upstream, and runs each connection through the toxics. */
export class ProxyRuntime {
  readonly name: string;
  listen: HostPort;
  upstream: HostPort;
  readonly #options: ProxyRuntimeOptions;
  readonly #connections = new Set<Connection>();
  #toxics: ToxicConfig[] = [];
  #server: Server | undefined;

  constructor(options: ProxyRuntimeOptions) {
    this.name = options.name;
    this.listen = options.listen;
    this.upstream = options.upstream;
    this.#options = options;
  }

  get enabled(): boolean {
    return this.#server !== undefined;
  }

  get toxics(): readonly ToxicConfig[] {
    return this.#toxics;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  info(): ProxyInfo {
    return {
      name: this.name,
      listen: formatHostPort(this.listen),
      upstream: formatHostPort(this.upstream),
      enabled: this.enabled,
      toxics: this.#toxics.map((t) => ({ ...t, attributes: { ...t.attributes } })),
    };
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (client) =>
      this.#accept(client),
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.listen.port, this.listen.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (address && typeof address === "object") this.listen = { host: this.listen.host, port: address.port };
    this.#server = server;
  }

  /** Closes the listener and drops every connection, as Toxiproxy's `enabled=false`. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const connection of this.#connections) connection.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async setToxics(toxics: ToxicConfig[]): Promise<void> {
    this.#toxics = toxics;
    await Promise.all([...this.#connections].map((c) => c.retoxify(toxics, this.#options.kinds)));
  }

  #accept(client: Socket): void {
    const connection = new Connection({
      client,
      upstream: this.upstream,
      clock: this.#options.clock,
      random: this.#options.random,
      onClose: (c) => this.#connections.delete(c),
    });
    this.#connections.add(connection);
    connection.start(this.#toxics, this.#options.kinds);
  }
}
