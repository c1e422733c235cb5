import { type TObject, Type } from "@sinclair/typebox";
import { type Clock, systemClock } from "../../time/index.ts";
import { ChaosConflictError, ChaosNotFoundError, ChaosValidationError } from "../errors.ts";
import { validate } from "../validate.ts";
import { parseHostPort } from "./address.ts";
import { type ProxyInfo, ProxyRuntime } from "./proxy.ts";
import { ProxyCreateSchema, ProxyPatchSchema, ToxicCreateSchema, ToxicPatchSchema } from "./schemas.ts";
import type { StreamDirection, ToxicConfig, ToxicKind } from "./toxic.ts";
import { toxicKinds } from "./toxics/index.ts";

export interface FaultProxyServerOptions {
  clock?: Clock;
  /** Source of randomness for toxicity and jitter; inject a seeded one for reproducible runs. */
  random?: () => number;
}

/** Input of {@link FaultProxyServer.createProxy}: Toxiproxy's proxy JSON. */
export interface ProxyInput {
  name: string;
  listen?: string;
  upstream: string;
  enabled?: boolean;
}

/** Input of {@link FaultProxyServer.addToxic}: Toxiproxy's toxic JSON; name defaults to `<type>_<stream>`. */
export interface ToxicInput {
  name?: string;
  type: string;
  stream?: StreamDirection;
  toxicity?: number;
  attributes?: Record<string, number>;
}

/**
 * A Toxiproxy-compatible set of TCP fault proxies, driven in-process (tests, the lab) or through
 * {@link createFaultProxyApi}. Every input is validated; bad input throws a {@link ChaosValidationError}.
 */
export class FaultProxyServer {
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #proxies = new Map<string, ProxyRuntime>();
  readonly #kinds: ReadonlyMap<string, ToxicKind> = toxicKinds;

  constructor(options: FaultProxyServerOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  listProxies(): Record<string, ProxyInfo> {
    return Object.fromEntries([...this.#proxies].map(([name, proxy]) => [name, proxy.info()]));
  }

  getProxy(name: string): ProxyInfo {
    return this.#proxy(name).info();
  }

  async createProxy(input: ProxyInput | unknown): Promise<ProxyInfo> {
    const body = validate(ProxyCreateSchema, input, "proxy");
    if (this.#proxies.has(body.name)) throw new ChaosConflictError(`proxy ${body.name} already exists`);
    const proxy = new ProxyRuntime({
      name: body.name,
      listen: parseHostPort(body.listen, "listen"),
      upstream: parseHostPort(body.upstream, "upstream"),
      clock: this.#clock,
      random: this.#random,
      kinds: this.#kinds,
    });
    if (body.enabled) await proxy.start();
    this.#proxies.set(body.name, proxy);
    return proxy.info();
  }

  /** Creates each proxy, replacing one of the same name whose listen or upstream differs (Toxiproxy's /populate). */
  async populate(inputs: unknown): Promise<ProxyInfo[]> {
    if (!Array.isArray(inputs)) {
      throw new ChaosValidationError("invalid proxy list", [
        { field: "(body)", message: "must be an array" },
      ]);
    }
    const bodies = inputs.map((input, i) => validate(ProxyCreateSchema, input, "proxy", `[${i}]`));
    const created: ProxyInfo[] = [];
    for (const body of bodies) {
      const existing = this.#proxies.get(body.name)?.info();
      if (existing && existing.upstream === body.upstream && sameListen(existing.listen, body.listen)) {
        created.push(await this.updateProxy(body.name, { enabled: body.enabled }));
        continue;
      }
      if (existing) await this.deleteProxy(body.name);
      created.push(await this.createProxy(body));
    }
    return created;
  }

  async updateProxy(name: string, patch: unknown): Promise<ProxyInfo> {
    const proxy = this.#proxy(name);
    const body = validate(ProxyPatchSchema, patch, "proxy update");
    const rebind = body.listen !== undefined || body.upstream !== undefined;
    if (rebind || body.enabled === false) await proxy.stop();
    if (body.listen !== undefined) proxy.listen = parseHostPort(body.listen, "listen");
    if (body.upstream !== undefined) proxy.upstream = parseHostPort(body.upstream, "upstream");
    const wasEnabled = proxy.enabled || rebind;
    if (body.enabled ?? wasEnabled) await proxy.start();
    return proxy.info();
  }

  async deleteProxy(name: string): Promise<void> {
    const proxy = this.#proxy(name);
    this.#proxies.delete(name);
    await proxy.stop();
  }

  listToxics(proxyName: string): ToxicConfig[] {
    return this.#proxy(proxyName).info().toxics;
  }

  getToxic(proxyName: string, toxicName: string): ToxicConfig {
    const toxic = this.listToxics(proxyName).find((t) => t.name === toxicName);
    if (!toxic) throw new ChaosNotFoundError(`toxic ${toxicName} not found on proxy ${proxyName}`);
    return toxic;
  }

  async addToxic(proxyName: string, input: ToxicInput | unknown): Promise<ToxicConfig> {
    const proxy = this.#proxy(proxyName);
    const body = validate(ToxicCreateSchema, input, "toxic");
    const kind = this.#kinds.get(body.type);
    if (!kind) {
      throw new ChaosValidationError("invalid toxic", [
        { field: "type", message: `unknown toxic type; one of ${[...this.#kinds.keys()].join(", ")}` },
      ]);
    }
    const stream = body.stream ?? "downstream";
    const toxic: ToxicConfig = {
      name: body.name ?? `${body.type}_${stream}`,
      type: body.type,
      stream,
      toxicity: body.toxicity,
      attributes: checkAttributes(kind, body.attributes),
    };
    if (proxy.toxics.some((t) => t.name === toxic.name)) {
      throw new ChaosConflictError(`toxic ${toxic.name} already exists on proxy ${proxyName}`);
    }
    await proxy.setToxics([...proxy.toxics, toxic]);
    return { ...toxic, attributes: { ...toxic.attributes } };
  }

  async updateToxic(proxyName: string, toxicName: string, patch: unknown): Promise<ToxicConfig> {
    const proxy = this.#proxy(proxyName);
    const current = this.getToxic(proxyName, toxicName);
    const body = validate(ToxicPatchSchema, patch, "toxic update");
    const kind = this.#kinds.get(current.type)!;
    const updated: ToxicConfig = {
      ...current,
      toxicity: body.toxicity ?? current.toxicity,
      attributes: checkAttributes(kind, { ...current.attributes, ...body.attributes }),
    };
    await proxy.setToxics(proxy.toxics.map((t) => (t.name === toxicName ? updated : t)));
    return updated;
  }

  async removeToxic(proxyName: string, toxicName: string): Promise<void> {
    const proxy = this.#proxy(proxyName);
    this.getToxic(proxyName, toxicName);
    await proxy.setToxics(proxy.toxics.filter((t) => t.name !== toxicName));
  }

  /** Re-enables every proxy and removes every toxic: the panic button. */
  async reset(): Promise<void> {
    for (const proxy of this.#proxies.values()) {
      await proxy.setToxics([]);
      await proxy.start();
    }
  }

  /** Stops every proxy and forgets them. */
  async close(): Promise<void> {
    const proxies = [...this.#proxies.values()];
    this.#proxies.clear();
    await Promise.all(proxies.map((p) => p.stop()));
  }

  #proxy(name: string): ProxyRuntime {
    const proxy = this.#proxies.get(name);
    if (!proxy) throw new ChaosNotFoundError(`proxy ${name} not found`);
    return proxy;
  }
}

function checkAttributes(kind: ToxicKind, attributes: Record<string, unknown>): Record<string, number> {
  const strict = Type.Object((kind.attributes as TObject).properties, { additionalProperties: false });
  const checked = validate(strict, attributes, `${kind.type} attributes`, "attributes") as Record<
    string,
    number
  >;
  const extra = kind.check?.(checked) ?? [];
  if (extra.length > 0) throw new ChaosValidationError(`invalid ${kind.type} attributes`, extra);
  return checked;
}

function sameListen(bound: string, requested: string): boolean {
  return bound === requested || requested.endsWith(":0");
}
