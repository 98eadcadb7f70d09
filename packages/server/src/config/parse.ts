/** Parsers of single settings: each validates one value and throws ConfigError naming the setting. */
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';
import type { SettingName } from './settings.js';

/** 1–65535. Not 0: an OS-chosen port cannot be known in advance, and PUBLIC_URL must name it. */
export function parsePort(v: string): number {
  const n = /^\d{1,5}$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 1 && n <= 65535))
    throw new ConfigError('PORT', `must be an integer 1–65535 (got "${v.slice(0, 40)}")`);
  return n;
}

export function parseBool(name: string, v: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(name, `must be true or false (got "${v}")`);
}

export function parseHttpUrl(name: string, v: string): URL {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, 'must be an absolute http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(name, 'must be an absolute http(s) URL');
  }
  if (u.search || u.hash || u.username || u.password) {
    throw new ConfigError(name, 'must not contain a query, fragment or credentials');
  }
  return u;
}

/** A client id and secret that come together: both set, or neither (then null). Never echoes the secret. */
export function pairOrNull(
  raw: (name: SettingName) => string | undefined,
  idName: SettingName,
  secretName: SettingName,
): { clientId: string; clientSecret: string } | null {
  const clientId = raw(idName);
  const clientSecret = raw(secretName);
  if (clientId === undefined && clientSecret === undefined) return null;
  if (clientId === undefined) throw new ConfigError(idName, `must be set when ${secretName} is`);
  if (clientSecret === undefined) throw new ConfigError(secretName, `must be set when ${idName} is`);
  if (!/^[\x21-\x7e]{1,200}$/.test(clientId))
    throw new ConfigError(idName, 'must be 1–200 visible ASCII characters');
  if (!/^[\x21-\x7e]{1,500}$/.test(clientSecret))
    throw new ConfigError(secretName, 'must be 1–500 visible ASCII characters');
  return { clientId, clientSecret };
}

/**
 * A sign-in provider's endpoint: https, or plain http to a loopback host (a local stand-in).
 * Returns true for the plain-http case, which the start-up log announces.
 */
export function parseProviderUrl(name: string, v: string): boolean {
  const u = parseHttpUrl(name, v);
  if (u.protocol === 'https:') return false;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
    throw new ConfigError(name, 'must be an https URL (plain http only to a loopback host)');
  }
  return true;
}

/**
 * `DNS_SERVERS`: comma-separated `host[:port]`, each host an IP address (a resolver cannot be found
 * by name), IPv6 with a port in brackets. Returned in the form `Resolver.setServers` takes.
 */
export function parseDnsServers(v: string): string[] {
  const bad = (what: string) =>
    new ConfigError(
      'DNS_SERVERS',
      `must be comma-separated IP addresses with an optional port (1.1.1.1, 10.0.0.2:5353, [::1]:53); ${what}`,
    );
  const out: string[] = [];
  for (const part of v.split(',').map((p) => p.trim())) {
    if (part === '') throw bad('an entry is empty');
    const shown = `"${part.slice(0, 60)}"`;
    let host = part;
    let port: string | null = null;
    const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(part);
    if (bracketed) {
      host = bracketed[1]!;
      port = bracketed[2] ?? null;
      if (isIP(host) !== 6) throw bad(`${shown} is not an IPv6 address`);
    } else if (isIP(part) === 6) {
      host = part;
    } else {
      const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(part);
      if (!m || isIP(m[1]!) !== 4) throw bad(`${shown} is not an IP address`);
      host = m[1]!;
      port = m[2] ?? null;
    }
    if (port !== null && !(Number(port) >= 1 && Number(port) <= 65535))
      throw bad(`${shown} has a port outside 1–65535`);
    const p = port === null ? null : Number(port);
    out.push(isIP(host) === 6 ? (p === null ? host : `[${host}]:${p}`) : p === null ? host : `${host}:${p}`);
  }
  return out;
}

/** Validates a connection URL without ever echoing it (it may hold a password). */
export function optionalUrl(name: string, v: string | undefined, protocols: string[]): string | null {
  if (v === undefined) return null;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, `must be a URL (${protocols.map((p) => `${p}//…`).join(' or ')})`);
  }
  if (!protocols.includes(u.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return v;
}
