// LDAP connections for the LDAP passdb/userdb (ldapts): a small pool of clients bound as ldap_dn for
// searches, fresh connections for user binds, URIs tried in order, StartTLS/LDAPS, timeouts, RFC 4515 escaping.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Client, InvalidCredentialsError, ResultCodeError, type Entry } from 'ldapts';
import type { Config } from '../config/schema.js';
import { getLogger } from '../lib/logger.js';

const log = getLogger({ component: 'auth-ldap' });

export interface LdapOptions {
  uris: string[];
  base: string;
  bindDn: string;
  bindPassword: string;
  userFilter: string;
  passAttrs: Record<string, string>;
  userAttrs: Record<string, string>;
  authBind: boolean;
  startTls: boolean;
  tlsCaFile: string;
  tlsRequireCert: boolean;
  timeoutMs: number;
  poolSize: number;
}

/** "ldapAttr=field,ldapAttr2=field2" -> { ldapAttr: field, ... } (Dovecot's pass_attrs/user_attrs). */
export function parseAttributeMap(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const [attr, field] = pair.split('=').map((s) => s.trim());
    if (attr) out[attr] = field || attr;
  }
  return out;
}

export function ldapOptionsFromConfig(config: Config): LdapOptions {
  const a = config.auth;
  return {
    uris: a.ldap_uris,
    base: a.ldap_base,
    bindDn: a.ldap_dn,
    bindPassword: a.ldap_dnpass,
    userFilter: a.ldap_user_filter,
    passAttrs: parseAttributeMap(a.ldap_pass_attrs),
    userAttrs: parseAttributeMap(a.ldap_user_attrs),
    authBind: a.ldap_auth_bind,
    startTls: a.ldap_tls,
    tlsCaFile: a.ldap_tls_ca_file,
    tlsRequireCert: a.ldap_tls_require_cert,
    timeoutMs: a.ldap_timeout,
    poolSize: a.ldap_pool_size,
  };
}

/** RFC 4515 section 3: escape a value for use inside a filter. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => '\\' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

/** An LDAP answer that says "try later" or a transport failure, as opposed to a definite answer. */
export function isTemporaryLdapError(err: unknown): boolean {
  if (err instanceof ResultCodeError) return [3, 11, 51, 52, 80].includes(err.code); // timeLimit, adminLimit, busy, unavailable, other
  return true;
}

export { InvalidCredentialsError };

export class LdapPool {
  private readonly idle: Client[] = [];
  private active = 0;
  private readonly waiters: ((c: Client | Error) => void)[] = [];
  private closed = false;
  private readonly tlsOptions: ConnectionOptions;

  constructor(readonly opts: LdapOptions) {
    this.tlsOptions = { rejectUnauthorized: opts.tlsRequireCert };
    if (opts.tlsCaFile) this.tlsOptions.ca = readFileSync(opts.tlsCaFile);
  }

  /** A connected client (StartTLS done if configured), trying each URI in order; bound as `dn` when given. */
  async connect(dn?: string, password?: string): Promise<Client> {
    let lastError: unknown = new Error('no LDAP URIs configured');
    for (const url of this.opts.uris) {
      // ldapts speaks TLS from the start whenever tlsOptions is set, so it is given only for ldaps://.
      const tlsOptions = url.startsWith('ldaps://') ? this.tlsOptions : undefined;
      const client = new Client({ url, timeout: this.opts.timeoutMs, connectTimeout: this.opts.timeoutMs, tlsOptions, strictDN: false });
      try {
        if (this.opts.startTls && url.startsWith('ldap://')) await client.startTLS(this.tlsOptions);
        if (dn) await client.bind(dn, password ?? '');
        return client;
      } catch (err) {
        await client.unbind().catch(() => undefined);
        if (err instanceof InvalidCredentialsError) throw err;
        lastError = err;
        log.warn({ url, err: (err as Error).message }, 'LDAP connect failed');
      }
    }
    throw lastError;
  }

  private async acquire(): Promise<Client> {
    if (this.closed) throw new Error('LDAP pool closed');
    let idle: Client | undefined;
    while ((idle = this.idle.pop())) {
      // A connection the server closed would reconnect unbound: drop it and open a fresh, bound one.
      if (idle.isConnected) {
        this.active++;
        return idle;
      }
      idle.unbind().catch(() => undefined);
    }
    if (this.active < this.opts.poolSize) {
      this.active++;
      try {
        return await this.connect(this.opts.bindDn || undefined, this.opts.bindPassword);
      } catch (err) {
        this.active--;
        this.wakeOne();
        throw err;
      }
    }
    return new Promise<Client>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error('timed out waiting for an LDAP connection'));
      }, this.opts.timeoutMs);
      const waiter = (c: Client | Error) => {
        clearTimeout(timer);
        if (c instanceof Error) reject(c);
        else resolve(c);
      };
      this.waiters.push(waiter);
    });
  }

  private wakeOne(): void {
    const waiter = this.waiters.shift();
    if (!waiter) return;
    this.active++;
    this.connect(this.opts.bindDn || undefined, this.opts.bindPassword).then(waiter, (err: Error) => {
      this.active--;
      waiter(err);
    });
  }

  private release(client: Client, broken: boolean): void {
    this.active--;
    if (broken || this.closed) {
      client.unbind().catch(() => undefined);
      this.wakeOne();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      this.active++;
      waiter(client);
    } else this.idle.push(client);
  }

  /** One subtree search below the base, on a pooled connection; connection failures discard it. */
  async search(filter: string, attributes: string[]): Promise<Entry[]> {
    const client = await this.acquire();
    let broken = false;
    try {
      const { searchEntries } = await client.search(this.opts.base, { scope: 'sub', filter, attributes, sizeLimit: 2 });
      return searchEntries;
    } catch (err) {
      broken = isTemporaryLdapError(err);
      throw err;
    } finally {
      this.release(client, broken);
    }
  }

  /** Binds as a user on a fresh connection: true for success, false for invalid credentials; throws otherwise. */
  async checkBind(dn: string, password: string): Promise<boolean> {
    if (!password) return false; // an empty password would be an unauthenticated bind (RFC 4513 section 5.1.2)
    let client: Client;
    try {
      client = await this.connect(dn, password);
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return false;
      throw err;
    }
    await client.unbind().catch(() => undefined);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(new Error('LDAP pool closed'));
    await Promise.allSettled(this.idle.splice(0).map((c) => c.unbind()));
  }
}

/** First value of an attribute as a string. */
export function attributeValue(entry: Entry, attr: string): string | undefined {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attr.toLowerCase());
  if (!key) return undefined;
  const v = entry[key];
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined) return undefined;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}
