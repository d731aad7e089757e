// The auth service every protocol logs in through (IMAP, POP3, SMTP, LMTP, the auth socket):
// mechanism -> passdb -> userdb as Dovecot's auth process, with failure delay, per-IP penalty, caches, master users.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { constantTimeEqual, storedCredentials } from './schemes/index.js';
import { hostname as systemHostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Config } from '../config/schema.js';
import { getLogger } from '../lib/logger.js';
import { findMechanism, type MechanismBackend, type MechanismDefinition, type MechanismFlag, type MechanismOptions, type MechanismSession } from './mech/index.js';
import type { CredentialsAnswer, CredentialsKind } from './mech/types.js';
import { isLoopback, NetworkList } from '../lib/networks.js';
import { PasswdFile } from './passwd-file.js';
import { PasswdFilePassdb } from './passdb/passwd-file.js';
import { PasswdFileUserdb } from './userdb/passwd-file.js';
import { LdapPassdb } from './passdb/ldap.js';
import { LdapUserdb } from './userdb/ldap.js';
import { LdapPool, ldapOptionsFromConfig } from './ldap-pool.js';
import { formatUsername } from './username-format.js';
import type { ClientInfo, Passdb, PassdbResult, SaslExchange, SaslStep, UserRecord, Userdb } from './types.js';

export type { ClientInfo, UserRecord, SaslStep, SaslExchange, Passdb, Userdb } from './types.js';

const log = getLogger({ component: 'auth' });

/** A userdb or passdb could not answer (LDAP down, unreadable file): callers answer "try again later". */
export class AuthTemporaryError extends Error {}

export interface AuthServiceOptions {
  /** Clock in milliseconds (tests move it to expire caches and penalties). */
  now?: () => number;
  /** Use these backends instead of the ones the config names. */
  passdb?: Passdb;
  userdb?: Userdb;
  masterPassdb?: Passdb;
}

interface PenaltyEntry {
  failures: number;
  lastFailure: number;
}

interface CacheEntry {
  expires: number;
  /** HMAC of the password that last verified (never the password itself). */
  passwordTag: string;
  result: Extract<PassdbResult, { kind: 'ok' }>;
}

const MAX_PENALTY_ENTRIES = 100_000;
const MAX_CACHE_ENTRIES = 100_000;

function resolveDataPath(dataDir: string, p: string): string {
  return isAbsolute(p) ? p : join(dataDir, p);
}

export class AuthService {
  private readonly now: () => number;
  private readonly trusted: NetworkList;
  private readonly penalties = new Map<string, PenaltyEntry>();
  private readonly positiveCache = new Map<string, CacheEntry>();
  private readonly negativeCache = new Map<string, number>();
  private readonly cacheKey = randomBytes(32);
  private readonly pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private closed = false;

  private constructor(
    readonly config: Config,
    readonly dataDir: string,
    readonly passdb: Passdb,
    readonly userdb: Userdb,
    readonly masterPassdb: Passdb | undefined,
    private readonly extraClosers: (() => Promise<void>)[],
    opts: AuthServiceOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.trusted = new NetworkList(config.server.login_trusted_networks);
    passdb.onChange?.(() => this.flushCache());
  }

  static async create(config: Config, dataDir: string, opts: AuthServiceOptions = {}): Promise<AuthService> {
    const a = config.auth;
    const closers: (() => Promise<void>)[] = [];
    let passwdFile: PasswdFile | undefined;
    const passwd = () => (passwdFile ??= new PasswdFile(resolveDataPath(dataDir, a.passwd_file)));
    let pool: LdapPool | undefined;
    const ldap = () => {
      if (!pool) {
        const created = new LdapPool(ldapOptionsFromConfig(config));
        pool = created;
        closers.push(() => created.close());
      }
      return pool;
    };
    const passdb =
      opts.passdb ??
      (a.passdb_driver === 'ldap' ? new LdapPassdb(ldap(), ldapOptionsFromConfig(config)) : new PasswdFilePassdb(passwd(), { defaultScheme: a.default_pass_scheme }));
    const userdb = opts.userdb ?? (a.userdb_driver === 'ldap' ? new LdapUserdb(ldap(), ldapOptionsFromConfig(config)) : new PasswdFileUserdb(passwd()));
    const masterPassdb =
      opts.masterPassdb ??
      (a.master_passwd_file ? new PasswdFilePassdb(new PasswdFile(resolveDataPath(dataDir, a.master_passwd_file)), { defaultScheme: a.default_pass_scheme }) : undefined);
    return new AuthService(config, dataDir, passdb, userdb, masterPassdb, closers, opts);
  }

  // ------------------------------------------------------------ connection properties

  /** DECISIONS.md: secured means TLS, loopback, or a login_trusted_networks address. */
  isSecured(remoteIp: string, tls: boolean): boolean {
    return tls || isLoopback(remoteIp) || this.trusted.contains(remoteIp);
  }

  private plaintextAllowed(info: Pick<ClientInfo, 'secured'>): boolean {
    return info.secured || this.config.server.auth_allow_cleartext;
  }

  /** Every configured mechanism we implement, upper-case, in config order. */
  configuredMechanisms(): MechanismDefinition[] {
    const out: MechanismDefinition[] = [];
    for (const name of this.config.auth.auth_mechanisms) {
      const mech = findMechanism(name);
      if (mech && !out.includes(mech)) out.push(mech);
    }
    return out;
  }

  /** Dovecot's security flags for a mechanism (for the auth socket's MECH lines). */
  mechanismFlags(name: string): readonly MechanismFlag[] {
    return findMechanism(name)?.flags ?? [];
  }

  /** Mechanism names offered to this connection: plaintext ones only when secured or auth_allow_cleartext. */
  mechanisms(info: Pick<ClientInfo, 'secured'>): string[] {
    const plaintextOk = this.plaintextAllowed(info);
    return this.configuredMechanisms()
      .filter((m) => plaintextOk || !m.plaintext)
      .map((m) => m.name);
  }

  // ------------------------------------------------------------ authentication

  /** Starts a SASL exchange; an unknown or disallowed mechanism gives an exchange whose first step fails. */
  begin(mechanism: string, info: ClientInfo, opts: MechanismOptions = {}): SaslExchange {
    const name = mechanism.toUpperCase();
    const mech = this.configuredMechanisms().find((m) => m.name === name);
    let refusal: string | undefined;
    if (!mech) refusal = `mechanism ${name} not offered`;
    else if (mech.plaintext && !this.plaintextAllowed(info)) refusal = `plaintext mechanism ${name} on an unsecured connection`;
    const backend = this.backendFor(name, info);
    const session: MechanismSession | undefined = mech && !refusal ? mech.create(backend, { hostname: this.config.server.hostname || undefined, ...opts }) : undefined;
    let cancelled = false;
    let finished = false;
    let busy: Promise<unknown> = Promise.resolve();
    return {
      mechanism: name,
      step: (response) => {
        const run = busy.then(async (): Promise<SaslStep> => {
          if (cancelled) return { kind: 'failure', temporary: false, reason: 'exchange cancelled' };
          if (finished) return { kind: 'failure', temporary: false, reason: 'exchange already finished' };
          const result = session ? await session.step(response) : await backend.fail(refusal ?? 'no mechanism');
          if (result.kind !== 'challenge') finished = true;
          return result;
        });
        busy = run.catch(() => undefined);
        return run;
      },
      cancel: () => {
        cancelled = true;
      },
    };
  }

  /** IMAP LOGIN, POP3 USER/PASS: a plaintext password check plus the userdb lookup. */
  async verifyPlain(user: string, password: string, info: ClientInfo): Promise<SaslStep> {
    const backend = this.backendFor('PLAIN', info);
    if (!this.plaintextAllowed(info)) return backend.fail('plaintext authentication on an unsecured connection', user);
    return backend.verifyPlain(user, password, undefined);
  }

  /**
   * POP3 APOP (RFC 1939 section 7): MD5 of the greeting's timestamp and the password. Possible only when the
   * passdb holds the plaintext password, as with Dovecot; it is not a plaintext mechanism (no cleartext check).
   */
  async verifyApop(rawUser: string, timestamp: string, digestHex: string, info: ClientInfo): Promise<SaslStep> {
    const backend = this.backendFor('APOP', info);
    const creds = await backend.credentials(rawUser, 'APOP');
    if (creds.kind === 'failure') return creds.step;
    const plaintext = storedCredentials(creds.stored, 'PLAIN');
    if (!plaintext) return backend.fail('APOP: passdb holds no plaintext password', creds.user);
    const expected = createHash('md5').update(timestamp, 'utf8').update(plaintext).digest();
    if (!/^[0-9a-fA-F]{32}$/.test(digestHex) || !constantTimeEqual(expected, Buffer.from(digestHex, 'hex'))) {
      return backend.fail('APOP: wrong digest', creds.user);
    }
    return backend.succeed(creds.user, undefined);
  }

  /** The callbacks a mechanism uses, bound to one client. */
  private backendFor(mechanism: string, info: ClientInfo): MechanismBackend {
    return {
      verifyPlain: (authcid, password, authzid) => this.passwordLogin(mechanism, authcid, password, authzid, info),
      credentials: (authcid, kind) => this.credentialsFor(mechanism, authcid, kind, info),
      succeed: (authcid, authzid, data) => this.completeLogin(mechanism, authcid, authzid, info, data),
      fail: (reason, authcid) => this.failure(mechanism, info, reason, false, authcid),
    };
  }

  private async passwordLogin(mechanism: string, rawAuthcid: string, password: string, rawAuthzid: string | undefined, info: ClientInfo): Promise<SaslStep> {
    let authcidInput = rawAuthcid;
    let authzidInput = rawAuthzid;
    const sep = this.config.auth.auth_master_user_separator;
    if (sep && authzidInput === undefined && this.masterPassdb) {
      const at = authcidInput.lastIndexOf(sep);
      if (at > 0 && at < authcidInput.length - sep.length) {
        authzidInput = authcidInput.slice(0, at);
        authcidInput = authcidInput.slice(at + sep.length);
      }
    }
    const authcid = this.normalize(authcidInput);
    const authzid = authzidInput === undefined ? undefined : this.normalize(authzidInput);
    if (!authcid) return this.failure(mechanism, info, 'empty user name', false);
    const viaMaster = authzid !== undefined && authzid !== authcid;
    let result: PassdbResult;
    if (viaMaster) {
      if (!this.masterPassdb) return this.failure(mechanism, info, `authzid ${authzid} given but no master passdb is configured`, false, authcid);
      result = await this.safePassdbCall(() => this.masterPassdb!.verifyPlain(authcid, password));
    } else {
      result = await this.verifyWithCache(authcid, password);
    }
    switch (result.kind) {
      case 'tempfail':
        return this.failure(mechanism, info, `passdb temporary failure: ${result.reason}`, true, authcid);
      case 'unknown':
        return this.failure(mechanism, info, viaMaster ? 'unknown master user' : 'unknown user', false, authcid);
      case 'mismatch':
        return this.failure(mechanism, info, viaMaster ? 'master password mismatch' : 'password mismatch', false, authcid);
      case 'ok':
        break;
    }
    const denial = this.passdbFieldDenial(result.extra, info);
    if (denial) return this.failure(mechanism, info, denial, false, authcid);
    const loginUser = viaMaster ? authzid! : result.user;
    return this.completeLogin(mechanism, loginUser, undefined, info, undefined, viaMaster ? result.user : undefined);
  }

  private async credentialsFor(mechanism: string, rawAuthcid: string, kind: CredentialsKind, info: ClientInfo): Promise<CredentialsAnswer> {
    const authcid = this.normalize(rawAuthcid);
    const result = await this.safeCredentialsCall(authcid);
    if (result.kind === 'tempfail') return { kind: 'failure', step: await this.failure(mechanism, info, `passdb temporary failure: ${result.reason}`, true, authcid) };
    if (result.kind === 'unknown') return { kind: 'failure', step: await this.failure(mechanism, info, 'unknown user', false, authcid) };
    const denial = this.passdbFieldDenial(result.extra, info);
    if (denial) return { kind: 'failure', step: await this.failure(mechanism, info, denial, false, authcid) };
    log.debug({ mech: mechanism, user: result.user, kind }, 'credentials looked up');
    return { kind: 'ok', user: result.user, stored: result.stored };
  }

  /** userdb lookup, uid/gid check, penalty reset: the last step of every successful login. */
  private async completeLogin(mechanism: string, user: string, authzid: string | undefined, info: ClientInfo, data?: Buffer, masterUser?: string): Promise<SaslStep> {
    if (authzid !== undefined && this.normalize(authzid) !== user) {
      return this.failure(mechanism, info, `authzid ${authzid} not allowed for ${user} with ${mechanism}`, false, user);
    }
    let lookup;
    try {
      lookup = await this.userdb.lookup(user);
    } catch (err) {
      lookup = { kind: 'tempfail' as const, reason: (err as Error).message };
    }
    if (lookup.kind === 'tempfail') return this.failure(mechanism, info, `userdb temporary failure: ${lookup.reason}`, true, user);
    if (lookup.kind === 'unknown') return this.failure(mechanism, info, masterUser ? `master user ${masterUser}: no such user ${user}` : 'user unknown in userdb', false, user);
    const problem = this.ownershipProblem(lookup.record);
    if (problem) return this.failure(mechanism, info, problem, false, user);
    this.penalties.delete(info.remoteIp);
    // IMAP and POP3 log their own logins, and an MTA asking over the auth socket logs the SASL user itself (Dovecot logs
    // successes only with auth_verbose): only a master user's login is worth a line here by default.
    (masterUser ? log.info.bind(log) : log.debug.bind(log))(
      { service: info.service, mech: mechanism, user: lookup.record.user, master: masterUser, rip: info.remoteIp, session: info.sessionId, result: 'ok' },
      masterUser ? 'master user login' : 'login',
    );
    return { kind: 'success', user: lookup.record, authzUser: masterUser ? lookup.record.user : undefined, masterUser, data };
  }

  /** DECISIONS.md: uid/gid, when given, must be the ones Roost runs as. */
  private ownershipProblem(record: UserRecord): string | undefined {
    const uid = process.getuid?.();
    const gid = process.getgid?.();
    if (record.uid !== undefined && uid !== undefined && record.uid !== uid) return `userdb uid ${record.uid} is not the uid Roost runs as (${uid})`;
    if (record.gid !== undefined && gid !== undefined && record.gid !== gid) return `userdb gid ${record.gid} is not the gid Roost runs as (${gid})`;
    return undefined;
  }

  /** nologin and allow_nets (Dovecot passdb extra fields). */
  private passdbFieldDenial(extra: Record<string, string>, info: ClientInfo): string | undefined {
    if ('nologin' in extra) return 'passdb says nologin';
    if (extra.allow_nets !== undefined) {
      const nets = extra.allow_nets.split(',').map((s) => s.trim()).filter(Boolean);
      const local = nets.includes('local') && !info.remoteIp;
      const matcher = new NetworkList(nets.filter((n) => n !== 'local'), { lenient: true });
      if (!local && !matcher.contains(info.remoteIp)) return `remote ip ${info.remoteIp || '(none)'} not in allow_nets`;
    }
    return undefined;
  }

  private normalize(user: string): string {
    return formatUsername(this.config.auth.auth_username_format, user.trim());
  }

  // ------------------------------------------------------------ passdb calls, cache

  private async safePassdbCall(call: () => Promise<PassdbResult>): Promise<PassdbResult> {
    try {
      return await call();
    } catch (err) {
      return { kind: 'tempfail', reason: (err as Error).message };
    }
  }

  private async safeCredentialsCall(user: string) {
    try {
      return await this.passdb.lookupCredentials(user);
    } catch (err) {
      return { kind: 'tempfail' as const, reason: (err as Error).message };
    }
  }

  private passwordTag(password: string): string {
    return createHmac('sha256', this.cacheKey).update(password, 'utf8').digest('base64');
  }

  private async verifyWithCache(user: string, password: string): Promise<PassdbResult> {
    const ttl = this.config.auth.auth_cache_ttl;
    const negativeTtl = this.config.auth.auth_cache_negative_ttl;
    if (ttl > 0 || negativeTtl > 0) {
      try {
        await this.passdb.refresh?.();
      } catch {
        // the lookup below reports the problem
      }
    }
    const now = this.now();
    if (negativeTtl > 0) {
      const until = this.negativeCache.get(user);
      if (until !== undefined && until > now) return { kind: 'unknown' };
      if (until !== undefined) this.negativeCache.delete(user);
    }
    const tag = ttl > 0 ? this.passwordTag(password) : '';
    if (ttl > 0) {
      const hit = this.positiveCache.get(user);
      if (hit && hit.expires > now && hit.passwordTag === tag) return hit.result;
      if (hit && hit.expires <= now) this.positiveCache.delete(user);
    }
    const result = await this.safePassdbCall(() => this.passdb.verifyPlain(user, password));
    if (result.kind === 'ok' && ttl > 0) {
      if (this.positiveCache.size >= MAX_CACHE_ENTRIES) this.positiveCache.clear();
      this.positiveCache.set(user, { expires: now + ttl, passwordTag: tag, result });
    } else if (result.kind === 'unknown' && negativeTtl > 0) {
      if (this.negativeCache.size >= MAX_CACHE_ENTRIES) this.negativeCache.clear();
      this.negativeCache.set(user, now + negativeTtl);
    } else if (result.kind === 'mismatch') {
      this.positiveCache.delete(user);
    }
    return result;
  }

  /** Drops every cached passdb answer (the passwd-file changed, or an admin asked). */
  flushCache(): void {
    this.positiveCache.clear();
    this.negativeCache.clear();
  }

  // ------------------------------------------------------------ failures, penalty

  /** The delay before the next failure reply to this IP: auth_failure_delay plus the grown penalty. */
  failureDelayFor(remoteIp: string): number {
    const a = this.config.auth;
    const entry = this.penalties.get(remoteIp);
    if (!entry || this.now() - entry.lastFailure > a.auth_penalty_timeout) return a.auth_failure_delay;
    const penalty = entry.failures <= 0 ? 0 : Math.min(a.auth_penalty_max, a.auth_penalty_init * 2 ** (entry.failures - 1));
    return a.auth_failure_delay + penalty;
  }

  private recordFailure(remoteIp: string): void {
    const now = this.now();
    const entry = this.penalties.get(remoteIp);
    if (entry && now - entry.lastFailure <= this.config.auth.auth_penalty_timeout) {
      entry.failures += 1;
      entry.lastFailure = now;
      return;
    }
    if (this.penalties.size >= MAX_PENALTY_ENTRIES) {
      for (const [ip, e] of this.penalties) if (now - e.lastFailure > this.config.auth.auth_penalty_timeout) this.penalties.delete(ip);
      if (this.penalties.size >= MAX_PENALTY_ENTRIES) this.penalties.clear();
    }
    this.penalties.set(remoteIp, { failures: 1, lastFailure: now });
  }

  private async failure(mechanism: string, info: ClientInfo, reason: string, temporary: boolean, user?: string): Promise<SaslStep> {
    const delay = info.noPenalty ? this.config.auth.auth_failure_delay : this.failureDelayFor(info.remoteIp);
    if (!temporary && !info.noPenalty) this.recordFailure(info.remoteIp);
    (temporary ? log.warn.bind(log) : log.info.bind(log))(
      { service: info.service, mech: mechanism, user, rip: info.remoteIp, session: info.sessionId, result: temporary ? 'tempfail' : 'fail', reason, delayMs: delay },
      'authentication failed',
    );
    await this.delay(delay);
    return { kind: 'failure', temporary, reason };
  }

  private delay(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        resolve,
        timer: setTimeout(() => {
          this.pendingDelays.delete(entry);
          resolve();
        }, ms),
      };
      this.pendingDelays.add(entry);
    });
  }

  // ------------------------------------------------------------ users and recipients

  /** userdb lookup of a (normalised) user name; null when unknown; AuthTemporaryError when the userdb cannot answer. */
  async lookupUser(name: string): Promise<UserRecord | null> {
    const user = this.normalize(name);
    if (!user) return null;
    let result;
    try {
      result = await this.userdb.lookup(user);
    } catch (err) {
      throw new AuthTemporaryError((err as Error).message);
    }
    if (result.kind === 'tempfail') throw new AuthTemporaryError(result.reason);
    return result.kind === 'ok' ? result.record : null;
  }

  /** The domains mail is accepted for: localhost, the host names, mydestination, and passwd-file user domains. */
  async localDomains(): Promise<Set<string>> {
    const domains = new Set<string>(['localhost', systemHostname().toLowerCase()]);
    if (this.config.server.hostname) domains.add(this.config.server.hostname.toLowerCase());
    const smtp = (this.config as unknown as Record<string, Record<string, unknown> | undefined>).smtp;
    const mydestination = smtp?.mydestination;
    if (Array.isArray(mydestination)) for (const d of mydestination) if (typeof d === 'string' && d) domains.add(d.toLowerCase());
    try {
      for (const user of (await this.userdb.list?.()) ?? []) {
        const at = user.lastIndexOf('@');
        if (at > 0) domains.add(user.slice(at + 1).toLowerCase());
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot list userdb users for local domains');
    }
    return domains;
  }

  /**
   * DECISIONS.md recipient mapping: the domain must be local, +detail is cut at recipient_delimiter,
   * lookups are case-insensitive, trying local@domain, then local.
   */
  async resolveRecipient(address: string): Promise<UserRecord | null> {
    const trimmed = address.trim().replace(/^<|>$/g, '');
    const at = trimmed.lastIndexOf('@');
    let local = at < 0 ? trimmed : trimmed.slice(0, at);
    const domain = at < 0 ? '' : trimmed.slice(at + 1).toLowerCase();
    if (!local) return null;
    if (domain && !(await this.localDomains()).has(domain)) return null;
    const delimiters = this.config.lmtp.recipient_delimiter;
    if (delimiters) {
      const cut = [...local].findIndex((ch) => delimiters.includes(ch));
      if (cut > 0) local = local.slice(0, cut);
    }
    local = local.toLowerCase();
    if (domain) {
      const full = await this.lookupUser(`${local}@${domain}`);
      if (full) return full;
    }
    return this.lookupUser(local);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const d of this.pendingDelays) {
      clearTimeout(d.timer);
      d.resolve();
    }
    this.pendingDelays.clear();
    await Promise.allSettled([this.passdb.close(), this.userdb.close(), this.masterPassdb?.close(), ...this.extraClosers.map((c) => c())]);
  }
}
