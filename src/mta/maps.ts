// Postfix-style lookup tables read from text files (postmap(1) "key value" syntax): virtual_alias_maps
// (virtual(5): user@domain, user, @domain) and transport_maps (transport(5): smtp:[host]:port, lmtp:..., error:...).
import { readFileSync, statSync } from 'node:fs';
import { splitTargets } from './aliases.js';

/** A "key value" text table, re-read when the file changes. */
export class TextTable {
  private entries = new Map<string, string>();
  private mtime = -1;

  constructor(private readonly path: string) {}

  private refresh(): void {
    if (!this.path) return;
    let mtime: number;
    try {
      mtime = statSync(this.path).mtimeMs;
    } catch {
      this.entries.clear();
      this.mtime = -1;
      return;
    }
    if (mtime === this.mtime) return;
    const entries = new Map<string, string>();
    let last: string | undefined;
    for (const raw of readFileSync(this.path, 'utf8').split(/\r?\n/)) {
      if (/^\s*#/.test(raw) || !raw.trim()) continue;
      if (/^[ \t]/.test(raw) && last) {
        entries.set(last, entries.get(last) + ' ' + raw.trim());
        continue;
      }
      const m = /^(\S+)\s+(.*)$/.exec(raw.trim());
      if (!m) continue;
      last = m[1].toLowerCase();
      entries.set(last, m[2].trim());
    }
    this.entries = entries;
    this.mtime = mtime;
  }

  get(key: string): string | undefined {
    this.refresh();
    return this.entries.get(key.toLowerCase());
  }
}

export class VirtualAliasMap {
  private readonly table: TextTable;
  constructor(path: string) {
    this.table = new TextTable(path);
  }

  /** virtual(5) lookup order: user@domain, then user (for local domains), then @domain. */
  lookup(address: string, isLocalDomain: boolean): string[] | undefined {
    const at = address.lastIndexOf('@');
    const local = at < 0 ? address : address.slice(0, at);
    const domain = at < 0 ? '' : address.slice(at + 1);
    const hit = this.table.get(address) ?? (isLocalDomain || !domain ? this.table.get(local) : undefined) ?? (domain ? this.table.get('@' + domain) : undefined);
    return hit === undefined ? undefined : splitTargets(hit.replace(/\s+/g, ','));
  }
}

export type Transport =
  | { kind: 'smtp'; host: string; port: number; mxLookup: boolean }
  | { kind: 'lmtp'; socketPath?: string; host?: string; port?: number }
  | { kind: 'error'; text: string }
  | { kind: 'local' };

/** Parses "smtp:[host]:port", "smtp:host", "lmtp:unix:/path", "lmtp:inet:host:port", "lmtp:host:port", "error:text", "local". */
export function parseTransport(value: string, defaultSmtpPort = 25): Transport {
  const colon = value.indexOf(':');
  const kind = (colon < 0 ? value : value.slice(0, colon)).trim().toLowerCase();
  const rest = colon < 0 ? '' : value.slice(colon + 1).trim();
  if (kind === 'error') return { kind: 'error', text: rest || 'mail for this destination is not accepted' };
  if (kind === 'local') return { kind: 'local' };
  if (kind === 'lmtp') {
    if (rest.startsWith('unix:')) return { kind: 'lmtp', socketPath: rest.slice(5) };
    const hostPort = rest.replace(/^inet:/, '');
    const hp = parseHostPort(hostPort, 24);
    return { kind: 'lmtp', host: hp.host, port: hp.port };
  }
  if (kind === 'smtp' || kind === 'relay') {
    const hp = parseHostPort(rest, defaultSmtpPort);
    return { kind: 'smtp', ...hp };
  }
  throw new Error(`unknown transport "${value}"`);
}

/** "[host]:port" (no MX lookup), "host:port" or "host" (MX lookup), as Postfix's nexthop syntax. */
export function parseHostPort(value: string, defaultPort: number): { host: string; port: number; mxLookup: boolean } {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracket) return { host: bracket[1], port: bracket[2] ? Number(bracket[2]) : defaultPort, mxLookup: false };
  const m = /^([^:]*)(?::(\d+))?$/.exec(value);
  return { host: m?.[1] ?? value, port: m?.[2] ? Number(m[2]) : defaultPort, mxLookup: true };
}

export class TransportMap {
  private readonly table: TextTable;
  constructor(path: string) {
    this.table = new TextTable(path);
  }

  /** transport(5) lookup: the domain, then parent domains as ".domain", then "*". */
  lookup(domain: string): string | undefined {
    const d = domain.toLowerCase();
    const direct = this.table.get(d);
    if (direct) return direct;
    const parts = d.split('.');
    for (let i = 1; i < parts.length; i++) {
      const hit = this.table.get('.' + parts.slice(i).join('.'));
      if (hit) return hit;
    }
    return this.table.get('*');
  }
}
