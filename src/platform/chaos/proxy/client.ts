import { callJson } from "../http/json-client.ts";
import type { ProxyInput, ToxicInput } from "./fault-proxy-server.ts";
import type { ProxyInfo } from "./proxy.ts";
import type { ToxicConfig } from "./toxic.ts";

/** What experiments and the lab need from a fault proxy; both the in-process server and the HTTP client fit. */
export interface FaultProxyControl {
  listProxies(): Promise<Record<string, ProxyInfo>> | Record<string, ProxyInfo>;
  createProxy(input: ProxyInput): Promise<ProxyInfo>;
  updateProxy(
    name: string,
    patch: { enabled?: boolean; listen?: string; upstream?: string },
  ): Promise<ProxyInfo>;
  addToxic(proxy: string, toxic: ToxicInput): Promise<ToxicConfig>;
  updateToxic(
    proxy: string,
    toxic: string,
    patch: { toxicity?: number; attributes?: Record<string, number> },
  ): Promise<ToxicConfig>;
  removeToxic(proxy: string, toxic: string): Promise<void>;
  reset(): Promise<void>;
}

/** Drives a running `bulwark chaos proxy` (or a real Toxiproxy) over its HTTP API. */
export class FaultProxyClient implements FaultProxyControl {
  readonly url: string;
  readonly #token: string | undefined;

  constructor(options: { url: string; token?: string }) {
    this.url = options.url;
    this.#token = options.token;
  }

  async listProxies(): Promise<Record<string, ProxyInfo>> {
    return (await this.#call("GET", "/proxies")) as Record<string, ProxyInfo>;
  }

  async createProxy(input: ProxyInput): Promise<ProxyInfo> {
    return (await this.#call("POST", "/proxies", input)) as ProxyInfo;
  }

  async updateProxy(
    name: string,
    patch: { enabled?: boolean; listen?: string; upstream?: string },
  ): Promise<ProxyInfo> {
    return (await this.#call("PATCH", `/proxies/${encodeURIComponent(name)}`, patch)) as ProxyInfo;
  }

  async addToxic(proxy: string, toxic: ToxicInput): Promise<ToxicConfig> {
    return (await this.#call("POST", `/proxies/${encodeURIComponent(proxy)}/toxics`, toxic)) as ToxicConfig;
  }

  async updateToxic(
    proxy: string,
    toxic: string,
    patch: { toxicity?: number; attributes?: Record<string, number> },
  ): Promise<ToxicConfig> {
    const path = `/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(toxic)}`;
    return (await this.#call("PATCH", path, patch)) as ToxicConfig;
  }

  async removeToxic(proxy: string, toxic: string): Promise<void> {
    await this.#call("DELETE", `/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(toxic)}`);
  }

  async reset(): Promise<void> {
    await this.#call("POST", "/reset");
  }

  #call(method: string, path: string, body?: unknown): Promise<unknown> {
    return callJson(this.url, method, path, this.#token, body);
  }
}
