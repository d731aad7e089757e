// Recipient resolution as Postfix's trivial-rewrite + cleanup + local(8): virtual_alias_maps, then for local
// domains (mydestination) the aliases database (nested, lists, :include:, /dev/null) and the userdb, with
// recipient_delimiter subaddressing (RFC 5233) and postmaster/abuse always deliverable (RFC 5321 4.5.1, RFC 2142).
import { readFileSync } from 'node:fs';
import { AliasDatabase } from './aliases.js';
import { VirtualAliasMap } from './maps.js';
import { parsePasswdLine } from '../auth/passwd-file.js';
import { FoundCache } from '../protocols/lmtp/found-cache.js';

export type ResolvedTarget =
  | { kind: 'local'; address: string; user: string }
  | { kind: 'remote'; address: string }
  | { kind: 'discard'; address: string }
  /** A "|command" or "/file" alias target; address is the local address whose alias named it (RECIPIENT). */
  | { kind: 'command'; address: string; command: string }
  | { kind: 'file'; address: string; path: string };

/** Identity of a target for duplicate elimination: one delivery per user, command, file or remote address. */
export function targetKey(t: ResolvedTarget): string {
  if (t.kind === 'local') return `local\0${t.user.toLowerCase()}`;
  if (t.kind === 'command') return `command\0${t.command}`;
  if (t.kind === 'file') return `file\0${t.path}`;
  return `${t.kind}\0${t.address.toLowerCase()}`;
}

export type Resolution =
  | { ok: true; targets: ResolvedTarget[] }
  | { ok: false; temporary: boolean; status: string; text: string };

export interface UserDirectory {
  localDomains(): Promise<Set<string>>;
  resolveRecipient(address: string): Promise<{ user: string } | null>;
}

export interface AddressResolverOptions {
  users: UserDirectory;
  aliases: AliasDatabase;
  virtual: VirtualAliasMap;
  /** Domain for bare local names (myorigin). */
  origin: string;
  recipientDelimiter: string;
  allowCommands: boolean;
  allowFiles: boolean;
  postmasterUser: string;
  passwdFile: string;
}

const MAX_DEPTH = 20;

export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  return at < 0 ? { local: address, domain: '' } : { local: address.slice(0, at), domain: address.slice(at + 1).toLowerCase() };
}

/** How long a local domain or a found recipient is remembered (what is not found is always looked up again). */
const LOOKUP_TTL_MS = 1_000;

export class AddressResolver {
  private domains: { set: Set<string>; until: number } | undefined;
  private readonly found = new FoundCache<{ user: string }>(LOOKUP_TTL_MS);

  constructor(private readonly opts: AddressResolverOptions) {}

  async isLocalDomain(domain: string): Promise<boolean> {
    const d = domain.toLowerCase();
    if (d === this.opts.origin.toLowerCase()) return true;
    const now = Date.now();
    if (this.domains && now < this.domains.until && this.domains.set.has(d)) return true;
    const set = await this.opts.users.localDomains();
    this.domains = { set, until: now + LOOKUP_TTL_MS };
    return set.has(d);
  }

  /** Whether virtual_alias_maps handles this address (a virtual alias domain needs no relay permission). */
  async hasVirtualEntry(address: string): Promise<boolean> {
    const { local, domain } = splitAddress(address);
    return this.opts.virtual.lookup(`${local.toLowerCase()}@${domain}`, await this.isLocalDomain(domain)) !== undefined;
  }

  /** Adds myorigin to a bare local name. */
  qualify(address: string): string {
    return address.includes('@') ? address : `${address}@${this.opts.origin}`;
  }

  private baseLocal(local: string): string {
    const delimiters = this.opts.recipientDelimiter;
    if (!delimiters) return local.toLowerCase();
    const cut = [...local].findIndex((ch) => delimiters.includes(ch));
    return (cut > 0 ? local.slice(0, cut) : local).toLowerCase();
  }

  /** Expands an address to where its mail goes; a failure names the RFC 3463 status for a 5xx/4xx reply. */
  async resolve(address: string): Promise<Resolution> {
    const targets: ResolvedTarget[] = [];
    const failure = await this.expand(this.qualify(address), 0, new Set(), targets);
    if (failure) return failure;
    const seen = new Set<string>();
    const unique = targets.filter((t) => {
      const key = targetKey(t);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return { ok: true, targets: unique };
  }

  private async expand(address: string, depth: number, chain: Set<string>, out: ResolvedTarget[]): Promise<Extract<Resolution, { ok: false }> | undefined> {
    if (depth > MAX_DEPTH) return { ok: false, temporary: false, status: '5.4.6', text: `<${address}> alias expansion loop` };
    const { local, domain } = splitAddress(address);
    const key = `${local.toLowerCase()}@${domain}`;
    const localDomain = await this.isLocalDomain(domain);

    if (!chain.has('v:' + key)) {
      const virtual = this.opts.virtual.lookup(`${local.toLowerCase()}@${domain}`, localDomain);
      if (virtual) {
        const next = new Set(chain).add('v:' + key);
        for (const target of virtual) {
          const failure = await this.expandTarget(target, address, depth + 1, next, out);
          if (failure) return failure;
        }
        return undefined;
      }
    }
    if (!localDomain) {
      out.push({ kind: 'remote', address });
      return undefined;
    }

    const base = this.baseLocal(local);
    if (!chain.has('a:' + base)) {
      const aliasTargets = this.opts.aliases.lookup(base);
      if (aliasTargets) {
        const next = new Set(chain).add('a:' + base);
        for (const target of aliasTargets) {
          const failure = await this.expandTarget(target, address, depth + 1, next, out);
          if (failure) return failure;
        }
        return undefined;
      }
    }

    const user = await this.found.get(address.toLowerCase(), () => this.opts.users.resolveRecipient(address));
    if (user) {
      out.push({ kind: 'local', address, user: user.user });
      return undefined;
    }
    if (base === 'postmaster' || base === 'abuse') {
      const fallback = this.postmasterUser();
      if (fallback) {
        out.push({ kind: 'local', address: fallback, user: fallback });
        return undefined;
      }
    }
    return { ok: false, temporary: false, status: '5.1.1', text: `<${address}>: Recipient address rejected: User unknown in local recipient table` };
  }

  /** One alias or virtual target of `owner` (the address whose entry named it). */
  private async expandTarget(target: string, owner: string, depth: number, chain: Set<string>, out: ResolvedTarget[]): Promise<Extract<Resolution, { ok: false }> | undefined> {
    const t = target.trim();
    if (!t) return undefined;
    if (t === '/dev/null') {
      out.push({ kind: 'discard', address: t });
      return undefined;
    }
    if (t.toLowerCase().startsWith(':include:')) {
      let included: string[];
      try {
        included = this.opts.aliases.readInclude(t);
      } catch {
        return { ok: false, temporary: true, status: '4.3.0', text: `cannot read ${t}` };
      }
      for (const item of included) {
        const failure = await this.expandTarget(item, owner, depth + 1, chain, out);
        if (failure) return failure;
      }
      return undefined;
    }
    if (t.startsWith('|')) {
      if (!this.opts.allowCommands) return { ok: false, temporary: false, status: '5.7.1', text: 'mail to command is not allowed' };
      const command = t.slice(1).trim();
      if (!command) return { ok: false, temporary: false, status: '5.3.5', text: 'empty command in alias' };
      out.push({ kind: 'command', address: owner, command });
      return undefined;
    }
    if (t.startsWith('/')) {
      if (!this.opts.allowFiles) return { ok: false, temporary: false, status: '5.7.1', text: 'mail to file is not allowed' };
      out.push({ kind: 'file', address: owner, path: t });
      return undefined;
    }
    return this.expand(this.qualify(t.replace(/^<|>$/g, '')), depth, chain, out);
  }

  private postmasterUser(): string | undefined {
    if (this.opts.postmasterUser) return this.opts.postmasterUser;
    try {
      for (const [i, line] of readFileSync(this.opts.passwdFile, 'utf8').split('\n').entries()) {
        const entry = parsePasswdLine(line, i + 1);
        if (entry) return entry.user;
      }
    } catch {
      /* no passwd-file */
    }
    return undefined;
  }
}
