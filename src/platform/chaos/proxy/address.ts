import { ChaosValidationError } from "../errors.ts";

export interface HostPort {
  host: string;
  port: number;
}

/** Parses Toxiproxy's `host:port` (or `[v6]:port`) strings. */
export function parseHostPort(value: string, field: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new ChaosValidationError(`invalid ${field}`, [{ field, message: "must be host:port" }]);
  }
  return { host: match[1] ?? (match[2] || "127.0.0.1"), port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
