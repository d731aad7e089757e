// The queue manager, as Postfix's qmgr(8): takes mail from incoming into active, delivers local recipients
// over cached LMTP connections (RFC 2033) several messages at once, remote ones over SMTP (RFC 5321) and "|command" or
// "/file" alias targets through the local delivery agent (local-agent.ts, Postfix's local(8)), retries with
// backoff by an injectable clock, bounces with RFC 3464 DSNs (never a bounce of a bounce), and after a crash
// delivers every message once more without doubling LMTP: a message is durably in active before anything of it is
// sent to Roost's LMTP, and whatever a crash leaves in active is looked up in the mailbox before it is sent again.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { getLogger } from '../lib/logger.js';
import type { AdjustableClock } from './clock.js';
import type { QueueStore } from './queue-store.js';
import { appendRecord, appendRecords, contentStream, CorruptQueueFile, HEADER_LENGTH, type QueueEnvelope, type QueueFileState, type QueueRecipient, type QueueRecord } from './queue-file.js';
import { ConnectionFailure, sendMessage, tcpEndpoint, unixEndpoint, type DeliveryRecipient, type Endpoint, type RecipientOutcome } from './delivery.js';
import { LmtpPool, LmtpUnavailable } from './lmtp-client.js';
import { DnsFailure, type MxResolver } from './mx.js';
import { parseHostPort, parseTransport, type Transport, type TransportMap } from './maps.js';
import { buildBounce, type FailedRecipient } from './bounce.js';
import { splitAddress } from './addresses.js';
import type { LocalAgent } from './local-agent.js';
import { peerNames, type TlsLevel, type TlsPolicyMap } from './tls-policy.js';

const log = getLogger({ component: 'qmgr' });

export interface QmgrSettings {
  hostName: string;
  relayhost: string;
  relayhostAuth?: { user: string; pass: string };
  tls: TlsLevel;
  /** smtp_tls_CAfile's PEM bundle for verify and secure (undefined: Node's CA store). */
  tlsCa?: string;
  smtpPort: number;
  minimalBackoff: number;
  maximalBackoff: number;
  maximalQueueLifetime: number;
  bounceQueueLifetime: number;
  delayWarningTime: number;
  queueRunDelay: number;
  destinationConcurrency: number;
  activeLimit: number;
}

export interface QmgrOptions {
  store: QueueStore;
  clock: AdjustableClock;
  settings: QmgrSettings;
  /** Where local mail goes (Roost's LMTP socket or a configured LMTP target). */
  localTarget: Transport & { kind: 'lmtp' };
  /** True when localTarget is Roost's own LMTP: deliveries cut short by a crash are checked in the mailbox. */
  ownLmtp: boolean;
  /** Whether a message with this queue id already reached this address's mailbox (recovery after a crash). */
  alreadyDelivered(address: string, queueId: string): Promise<boolean>;
  transports: TransportMap;
  mx: MxResolver;
  /** Expands a bounce recipient (the original sender) to queue recipients; [] drops the bounce. */
  expandRecipient(address: string): Promise<QueueRecipient[]>;
  /** Delivers "|command" and "/file" alias targets (route command or file). */
  localAgent: LocalAgent;
  /** smtp_tls_policy_maps: a TLS level per next hop instead of settings.tls. */
  tlsPolicy: TlsPolicyMap;
}

/** Postfix's log format: "ID: to=<..>, relay=.., delay=.., dsn=.., status=.. (text)". */
function formatDelay(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? s.toFixed(1) : String(Math.round(s));
}

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    return () => {
      this.active--;
      this.waiting.shift()?.();
    };
  }
}

export class QueueManager {
  private readonly deferred = new Map<string, number>();
  private readonly busy = new Set<string>();
  private readonly perDestination = new Map<string, Semaphore>();
  private timer: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private started = false;
  private readonly idleWaiters: (() => void)[] = [];
  /** Cached LMTP connections per destination (Postfix's connection cache). */
  private readonly pools = new Map<string, LmtpPool>();
  /** Queue ids known to be waiting in incoming (told by arrived()), run as capacity frees up. */
  private readonly waiting: string[] = [];
  /** pickup() stopped at the active limit: scan incoming again when capacity frees up. */
  private rescan = false;

  constructor(private readonly opts: QmgrOptions) {
    opts.clock.onAdvance(() => this.schedule());
  }

  /**
   * Start-up: unfinished writes are removed, active mail goes back to incoming (as Postfix), then the queue runs.
   * A message found in active may have been in the middle of a delivery to Roost's LMTP: its local recipients are
   * marked in flight (durably, before the move), so its next run looks in their mailboxes before sending.
   */
  start(): void {
    const { store } = this.opts;
    const removed = store.removeIncompleteWrites();
    if (removed) log.info({ removed }, 'removed incomplete queue files');
    for (const id of store.list('active')) {
      if (this.opts.ownLmtp) this.markInFlight(id);
      store.move(id, 'active', 'incoming');
    }
    this.started = true;
    this.waiting.length = 0; // what arrived before the start is in incoming: pickup() finds it
    this.scanDeferred();
    this.pickup();
    this.scanTimer = setInterval(() => {
      this.scanDeferred();
      this.pickup();
    }, Math.max(1000, Math.min(this.opts.settings.queueRunDelay, 2 ** 31 - 1)));
    this.scanTimer.unref();
  }

  private markInFlight(id: string): void {
    const path = this.opts.store.path('active', id);
    let state: QueueFileState;
    try {
      state = this.opts.store.read('active', id);
    } catch {
      return; // unreadable: its run quarantines it
    }
    const local = state.envelope.recipients.map((r, i) => (r.route === 'local' && !state.finished.has(i) ? i : -1)).filter((i) => i >= 0);
    if (local.length) appendRecord(path, { t: 'inflight', r: local, at: this.opts.clock.now() });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.scanTimer) clearInterval(this.scanTimer);
    for (const pool of this.pools.values()) pool.close();
  }

  /** Reads the schedule of every deferred message (also those moved there by `roost queue release`). */
  scanDeferred(): void {
    const present = new Set(this.opts.store.list('deferred'));
    for (const id of this.deferred.keys()) if (!present.has(id)) this.deferred.delete(id);
    for (const id of present) {
      if (this.deferred.has(id) || this.busy.has(id)) continue;
      try {
        this.deferred.set(id, this.opts.store.read('deferred', id).nextAttempt);
      } catch (err) {
        this.quarantine('deferred', id, err);
      }
    }
    this.schedule();
  }

  /** New mail in incoming (a wakeup from `roost sendmail`, start-up, the periodic scan): reads the directory. */
  pickup(): void {
    if (this.stopped || !this.started) return;
    this.rescan = false;
    for (const id of this.opts.store.list('incoming')) {
      if (this.busy.size >= this.opts.settings.activeLimit) {
        this.rescan = true;
        return;
      }
      if (this.busy.has(id)) continue;
      this.run(id, 'incoming');
    }
  }

  /** A message this process just queued (after 250): started now if the active queue has room, without a directory scan. */
  arrived(id: string): void {
    this.waiting.push(id);
    this.drain();
  }

  private drain(): void {
    if (this.stopped || !this.started) return;
    const limit = this.opts.settings.activeLimit;
    while (this.waiting.length && this.busy.size < limit) this.run(this.waiting.shift()!, 'incoming');
    if (this.rescan && this.busy.size < limit) this.pickup();
  }

  /** `roost queue flush`: every deferred message is tried now. */
  flush(): void {
    this.scanDeferred();
    for (const id of this.deferred.keys()) this.deferred.set(id, 0);
    this.schedule();
    this.pickup();
  }

  /** Resolves when no message is being delivered (used by `roost queue flush --wait`). */
  idle(): Promise<void> {
    if (this.busy.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.stopped || !this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.opts.clock.now();
    let earliest = Infinity;
    for (const [id, next] of this.deferred) {
      if (next <= now) {
        if (this.busy.size >= this.opts.settings.activeLimit) {
          earliest = now;
          break;
        }
        this.deferred.delete(id);
        this.run(id, 'deferred');
      } else earliest = Math.min(earliest, next);
    }
    if (earliest !== Infinity) {
      this.timer = setTimeout(() => this.schedule(), Math.min(Math.max(earliest - now, 50), 2 ** 31 - 1));
      this.timer.unref();
    }
  }

  private run(id: string, from: 'incoming' | 'deferred'): void {
    if (this.busy.has(id)) return;
    // Into active; the directory fsync that makes the move durable waits until something is sent to Roost's LMTP,
    // and is shared by every message that starts meanwhile.
    if (!this.opts.store.move(id, from, 'active', false)) {
      this.opts.store.forgetFresh(id); // held or deleted meanwhile
      return;
    }
    this.busy.add(id);
    this.deliver(id, from === 'incoming')
      .catch((err) => log.error({ queueId: id, err: (err as Error).message }, 'delivery run failed'))
      .finally(() => {
        this.busy.delete(id);
        if (this.busy.size === 0) for (const w of this.idleWaiters.splice(0)) w();
        this.drain();
        this.schedule();
      });
  }

  private quarantine(state: 'incoming' | 'active' | 'deferred', id: string, err: unknown): void {
    log.error({ queueId: id, err: (err as Error).message }, `${id}: corrupt queue file, moved to corrupt`);
    this.opts.store.move(id, state, 'corrupt');
  }

  private destinationLimit(key: string): Semaphore {
    let s = this.perDestination.get(key);
    if (!s) this.perDestination.set(key, (s = new Semaphore(this.opts.settings.destinationConcurrency)));
    return s;
  }

  private lmtpPool(endpoint: Endpoint): LmtpPool {
    let pool = this.pools.get(endpoint.label);
    if (!pool) {
      pool = new LmtpPool({ endpoint, heloName: this.opts.settings.hostName }, this.opts.settings.destinationConcurrency);
      this.pools.set(endpoint.label, pool);
    }
    return pool;
  }

  /** One delivery run of an active message. */
  private async deliver(id: string, firstRun: boolean): Promise<void> {
    const { store, clock } = this.opts;
    const path = store.path('active', id);
    let state: QueueFileState;
    // A message this process queued: its state and small content are still in memory, nothing to read back.
    const fresh = firstRun ? store.takeFresh(id) : undefined;
    try {
      state = fresh?.state ?? store.read('active', id);
    } catch (err) {
      if (err instanceof CorruptQueueFile) return this.quarantine('active', id, err);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const env = state.envelope;
    const pending = env.recipients.map((_, i) => i).filter((i) => !state.finished.has(i));
    const outcomes = new Map<number, RecipientOutcome>();
    /** Outcomes of this run, written in one append when the message stays queued (or a DSN is due). */
    const records: QueueRecord[] = [];
    const content = fresh?.content;

    // A delivery to Roost's LMTP that a crash interrupted: look in the mailbox before sending again.
    for (const [i] of state.uncertain) {
      const r = env.recipients[i];
      if (r.route !== 'local' || !this.opts.ownLmtp) continue;
      if (await this.opts.alreadyDelivered(r.address, id)) {
        const outcome: RecipientOutcome = { index: i, status: 'sent', dsn: '2.0.0', text: 'delivered before restart', relay: 'local' };
        records.push({ t: 'done', r: [i], status: 'sent', dsn: '2.0.0', relay: 'local', text: outcome.text, at: clock.now() });
        this.logOutcome(env, outcome);
        outcomes.set(i, outcome);
      }
    }

    const groups = new Map<string, { transport: Transport | 'mx'; domain: string; recipients: DeliveryRecipient[] }>();
    /** Command and file recipients: the local delivery agent, which records each outcome itself. */
    const agentRecipients: number[] = [];
    for (const i of pending) {
      if (outcomes.has(i)) continue;
      const r = env.recipients[i];
      if (r.route === 'command' || r.route === 'file') {
        agentRecipients.push(i);
        continue;
      }
      const domain = splitAddress(r.address).domain;
      let transport: Transport | 'mx';
      if (r.route === 'local') transport = this.opts.localTarget;
      else {
        const routed = this.opts.transports.lookup(domain);
        if (routed) {
          try {
            transport = parseTransport(routed, this.opts.settings.smtpPort);
          } catch {
            transport = { kind: 'error', text: `bad transport_maps entry for ${domain}` };
          }
        } else if (this.opts.settings.relayhost) transport = { kind: 'smtp', ...parseHostPort(this.opts.settings.relayhost, 25) };
        else transport = 'mx';
      }
      const key = r.route === 'local' ? 'local' : transport === 'mx' ? `mx:${domain}` : JSON.stringify(transport);
      const group = groups.get(key) ?? { transport, domain, recipients: [] };
      group.recipients.push({ index: i, address: r.address, original: r.original, notify: r.notify });
      groups.set(key, group);
    }

    await Promise.all([
      ...[...groups.entries()].map(async ([key, group]) => {
        const release = await this.destinationLimit(key).acquire();
        try {
          const results = await this.deliverGroup(id, path, state, content, group.transport, group.domain, group.recipients);
          for (const outcome of results) {
            outcomes.set(outcome.index, outcome);
            this.logOutcome(env, outcome);
            if (outcome.status !== 'deferred') records.push({ t: 'done', r: [outcome.index], status: outcome.status, dsn: outcome.dsn, relay: outcome.relay, text: outcome.text, at: clock.now() });
          }
        } finally {
          release();
        }
      }),
      agentRecipients.length &&
        this.opts.localAgent.deliver(id, path, state, agentRecipients, () => content ?? contentStream(path, state.contentLength), () => clock.now()).then((results) => {
          for (const outcome of results) {
            outcomes.set(outcome.index, outcome);
            this.logOutcome(env, outcome);
          }
        }),
    ]);

    await this.finishRun(id, path, state, outcomes, records);
  }

  private async deliverGroup(id: string, path: string, state: QueueFileState, content: Buffer[] | undefined, transport: Transport | 'mx', domain: string, recipients: DeliveryRecipient[]): Promise<RecipientOutcome[]> {
    const s = this.opts.settings;
    const env = state.envelope;
    const all = (status: RecipientOutcome['status'], dsn: string, text: string, relay: string) => recipients.map((r) => ({ index: r.index, status, dsn, text, relay }));
    if (transport !== 'mx' && transport.kind === 'error') return all('bounced', '5.0.0', transport.text, 'none');
    if (transport !== 'mx' && transport.kind === 'local') transport = this.opts.localTarget;
    const base = {
      heloName: s.hostName,
      sender: env.sender,
      recipients,
      content: () => content ?? contentStream(path, state.contentLength),
      size: state.contentLength,
      dsn: { ret: env.dsnRet, envid: env.envid },
    };
    if (transport !== 'mx' && transport.kind === 'lmtp') {
      const endpoint: Endpoint = transport.socketPath ? unixEndpoint(transport.socketPath) : tcpEndpoint(transport.host ?? '127.0.0.1', transport.port ?? 24);
      const own = transport === this.opts.localTarget && this.opts.ownLmtp;
      // Exactly once to Roost's LMTP: the message is durably in active before the end of data (after which the
      // server delivers); a crash leaves it there, start-up marks it in flight, and the next run looks in the mailbox
      // before sending again. The directory fsync runs while MAIL, RCPT and DATA go back and forth.
      const beforeEnd = own ? this.opts.store.syncDir('active') : undefined;
      beforeEnd?.catch(() => undefined); // looked at by the LMTP client; never an unhandled rejection
      try {
        return await this.lmtpPool(endpoint).deliver({ ...base, beforeEnd });
      } catch (err) {
        if (err instanceof LmtpUnavailable) return all('deferred', err.dsn, err.message, endpoint.label);
        throw err;
      }
    }
    // SMTP: a relayhost, a transport_maps nexthop or the domain's MX hosts.
    let hops: { name: string; ip: string; port: number }[];
    const isRelayhost = transport !== 'mx' && !this.opts.transports.lookup(domain);
    try {
      if (transport === 'mx') hops = (await this.opts.mx.hostsFor(domain)).map((h) => ({ ...h, port: s.smtpPort }));
      else if (transport.kind === 'smtp') hops = (await this.opts.mx.hostsFor(transport.host, transport.mxLookup)).map((h) => ({ ...h, port: transport.port }));
      else return all('bounced', '5.3.5', 'unsupported transport', 'none');
    } catch (err) {
      if (err instanceof DnsFailure) return all('deferred', '4.4.3', `Host or domain name not found: ${err.message}`, 'none');
      throw err;
    }
    const nexthop = transport === 'mx' ? { host: domain, port: s.smtpPort, mxLookup: true } : transport;
    const policy = this.opts.tlsPolicy.lookup(nexthop.host, nexthop.port, nexthop.mxLookup) ?? s.tls;
    if (typeof policy === 'object') return all('deferred', '4.7.5', policy.error, 'none');
    let last: RecipientOutcome[] = all('deferred', '4.4.1', 'no mail exchanger answered', 'none');
    for (const hop of hops) {
      try {
        const tlsPeer = { ca: s.tlsCa, names: peerNames(policy, hop.name, nexthop.host) };
        return await sendMessage({ ...base, endpoint: tcpEndpoint(hop.ip, hop.port, hop.name), lmtp: false, tls: policy, tlsPeer, auth: isRelayhost ? s.relayhostAuth : undefined });
      } catch (err) {
        if (!(err instanceof ConnectionFailure)) throw err;
        last = all('deferred', err.dsn, err.message, `${hop.name}[${hop.ip}]:${hop.port}`);
      }
    }
    return last;
  }

  private logOutcome(env: QueueEnvelope, o: RecipientOutcome): void {
    const r = env.recipients[o.index];
    const delay = formatDelay(this.opts.clock.now() - env.arrivalTime);
    const orig = r.original && r.original !== r.address ? `, orig_to=<${r.original}>` : '';
    const line = `${env.id}: to=<${r.address}>${orig}, relay=${o.relay}, delay=${delay}, dsn=${o.dsn}, status=${o.status} (${o.text})`;
    const fields = { queueId: env.id, from: env.sender, to: r.address, relay: o.relay, delay, dsn: o.dsn, status: o.status };
    if (o.status === 'sent') log.info(fields, line);
    else log.warn(fields, line);
  }

  private async finishRun(id: string, path: string, state: QueueFileState, outcomes: Map<number, RecipientOutcome>, records: QueueRecord[]): Promise<void> {
    const { store, clock, settings } = this.opts;
    const env = state.envelope;
    const now = clock.now();
    const remaining = env.recipients.map((_, i) => i).filter((i) => !state.finished.has(i) && outcomes.get(i)?.status !== 'sent' && outcomes.get(i)?.status !== 'bounced');
    const lifetime = env.isBounce ? settings.bounceQueueLifetime : settings.maximalQueueLifetime;

    if (remaining.length && now - env.arrivalTime >= lifetime) {
      for (const i of remaining) {
        const last = outcomes.get(i);
        const outcome: RecipientOutcome = { index: i, status: 'bounced', dsn: '5.4.7', text: `delivery time expired${last ? ` (${last.text})` : ''}`, relay: last?.relay ?? 'none' };
        records.push({ t: 'done', r: [i], status: 'bounced', dsn: outcome.dsn, relay: outcome.relay, text: outcome.text, at: now });
        outcomes.set(i, outcome);
        this.logOutcome(env, outcome);
      }
      remaining.length = 0;
    }

    if (remaining.length === 0) {
      if (!state.notified) {
        const bounced: FailedRecipient[] = [];
        for (const [i, rec] of this.finalOutcomes([...state.records, ...records])) {
          if (rec.status !== 'bounced') continue;
          const r = env.recipients[i];
          if (r.notify?.includes('NEVER')) continue;
          bounced.push({ address: r.address, original: r.original, action: 'failed', dsn: rec.dsn, text: rec.text, relay: rec.relay });
        }
        if (bounced.length) {
          // The outcomes are made durable before the DSN is queued, so a crash in between never bounces twice.
          await appendRecords(path, records.splice(0));
          await this.notifySender(id, path, state, bounced);
        }
      }
      // Every recipient is done: the file goes, durably (a removal a crash undid would leave only "inflight" marks,
      // which the next run checks against the mailbox), and this run's outcomes need no writing.
      await store.removeDurably('active', id);
      log.info({ queueId: id }, `${id}: removed`);
      return;
    }

    // Deferred: Postfix's backoff, the time in the queue clamped to [minimal, maximal].
    const backoff = Math.min(Math.max(now - env.arrivalTime, settings.minimalBackoff), settings.maximalBackoff);
    const next = now + backoff;
    const reason = outcomes.get(remaining[0]);
    records.push({ t: 'defer', r: remaining, dsn: reason?.dsn ?? '4.0.0', relay: reason?.relay ?? 'none', text: reason?.text ?? 'deferred', next, at: now });
    // Roost's LMTP got the whole message but the connection went before these recipients' replies: the next run
    // looks in their mailboxes first.
    const unacknowledged = remaining.filter((i) => outcomes.get(i)?.unacknowledged && this.opts.ownLmtp && env.recipients[i].route === 'local');
    if (unacknowledged.length) records.push({ t: 'inflight', r: unacknowledged, at: now });
    await appendRecords(path, records);
    if (settings.delayWarningTime > 0 && !state.warned && !env.isBounce && env.sender && now - env.arrivalTime >= settings.delayWarningTime) {
      const delayed: FailedRecipient[] = remaining.map((i) => {
        const o = outcomes.get(i);
        return { address: env.recipients[i].address, original: env.recipients[i].original, action: 'delayed', dsn: o?.dsn ?? '4.0.0', text: o?.text ?? 'deferred', relay: o?.relay ?? 'none' };
      });
      await this.sendNotice(id, path, state, delayed);
      await appendRecords(path, [{ t: 'warned', at: now }]);
    }
    if (store.move(id, 'active', 'deferred')) this.deferred.set(id, next);
  }

  /** Final outcomes per recipient: the file's records and this run's. */
  private finalOutcomes(records: QueueRecord[]): Map<number, { status: string; dsn: string; text: string; relay: string }> {
    const out = new Map<number, { status: string; dsn: string; text: string; relay: string }>();
    for (const rec of records) if (rec.t === 'done') for (const i of rec.r) out.set(i, rec);
    return out;
  }

  private async notifySender(id: string, path: string, state: QueueFileState, bounced: FailedRecipient[]): Promise<void> {
    const env = state.envelope;
    if (!env.sender || env.isBounce) {
      log.warn({ queueId: id }, `${id}: bounce of a bounce or of the null sender discarded`);
    } else {
      await this.sendNotice(id, path, state, bounced);
      log.info({ queueId: id }, `${id}: sender non-delivery notification queued`);
    }
    await appendRecords(path, [{ t: 'notified', at: this.opts.clock.now() }]);
  }

  /** Queues an RFC 3464 report (failure or delay) to the envelope sender, with the null sender. */
  private async sendNotice(id: string, path: string, state: QueueFileState, recipients: FailedRecipient[]): Promise<void> {
    const env = state.envelope;
    if (!env.sender || env.isBounce) return;
    const targets = await this.opts.expandRecipient(env.sender);
    if (!targets.length) {
      log.warn({ queueId: id, to: env.sender }, `${id}: sender <${env.sender}> is not deliverable; notification dropped`);
      return;
    }
    const full = env.dsnRet === 'FULL';
    const limit = full ? state.contentLength : Math.min(state.contentLength, 256 * 1024);
    const original = readFileSync(path).subarray(HEADER_LENGTH, HEADER_LENGTH + limit);
    const now = this.opts.clock.now();
    const report = buildBounce({ hostName: this.opts.settings.hostName, queueId: id, sender: env.sender, arrival: new Date(env.arrivalTime), envid: env.envid, recipients, original, full, now: new Date(now) });
    const result = await this.opts.store.enqueue(
      (bounceId) => ({ id: bounceId, sender: '', recipients: targets, arrivalTime: now, client: { ip: '127.0.0.1', helo: 'localhost', protocol: 'bounce' }, isBounce: true }),
      () => Buffer.alloc(0),
      Readable.from([report]),
    );
    log.info({ queueId: result.id, from: '', to: env.sender }, `${result.id}: from=<>, size=${result.contentLength}, nrcpt=${targets.length} (queue active; notification for ${id})`);
    this.arrived(result.id);
  }
}
