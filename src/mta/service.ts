// The MTA core as daemon services: SMTP in (25), submission (587) and SMTPS (465) listeners feeding the
// smtp-server edge, the relay policy, the durable queue and the queue manager with its control socket.
// RFC 5321 (SMTP), RFC 6409 (submission), RFC 8314 (implicit TLS).
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import net from 'node:net';
import type { ServiceDefinition } from '../server/service.js';
import type { ServerContext } from '../server/context.js';
import type { Config } from '../config/schema.js';
import type { AuthService } from '../auth/service.js';
import { openUserStorage } from '../storage/api.js';
import { NetworkList, isLoopback } from '../lib/networks.js';
import { getLogger } from '../lib/logger.js';
import { SmtpEdge, type ListenerRole } from '../protocols/smtp/edge.js';
import { AdjustableClock } from './clock.js';
import { QueueStore } from './queue-store.js';
import { AddressResolver, type ResolvedTarget } from './addresses.js';
import { AliasDatabase } from './aliases.js';
import { TransportMap, VirtualAliasMap, parseTransport, type Transport } from './maps.js';
import { RelayPolicy } from './policy.js';
import { QueueManager } from './qmgr.js';
import { MxResolver, makeResolver, type DnsLike } from './mx.js';
import { queueMessage, queueRecipients } from './cleanup.js';
import { serveControl } from './control.js';
import { DeliveredIds } from './delivered-ids.js';
import { LocalAgent } from './local-agent.js';
import { TlsPolicyMap } from './tls-policy.js';
import { batchRepliesPerTurn } from '../protocols/lmtp/reply-batch.js';

const log = getLogger({ component: 'smtpd' });

export function dataFile(dataDir: string, p: string): string {
  return isAbsolute(p) ? p : join(dataDir, p);
}

export function myHostname(config: Config, fallback: string): string {
  return config.smtp.myhostname || config.server.hostname || fallback;
}

/** Recipient resolution shared by the daemon and `roost sendmail`. */
export function makeAddressResolver(config: Config, dataDir: string, auth: AuthService, hostName: string): AddressResolver {
  const s = config.smtp;
  return new AddressResolver({
    users: auth,
    aliases: new AliasDatabase(dataFile(dataDir, s.alias_maps)),
    virtual: new VirtualAliasMap(s.virtual_alias_maps ? dataFile(dataDir, s.virtual_alias_maps) : ''),
    origin: s.myorigin || hostName,
    recipientDelimiter: config.lmtp.recipient_delimiter,
    allowCommands: s.allow_mail_to_commands,
    allowFiles: s.allow_mail_to_files,
    postmasterUser: s.postmaster_user,
    passwdFile: dataFile(dataDir, config.auth.passwd_file),
  });
}

/** Path of the queue manager's control socket. */
export function controlSocketPath(dataDir: string): string {
  return join(dataDir, 'run', 'qmgr');
}

/** dns_servers entries "ip" or "ip:port" as node:dns setServers wants them. */
function dnsServers(list: string[]): string[] {
  return list.map((s) => {
    const m = /^([\d.]+):(\d+)$/.exec(s);
    return m ? `${m[1]}:${m[2]}` : s;
  });
}

/** smtp_tls_CAfile's PEM bundle; a file that cannot be read or holds no certificate stops the start with its name. */
function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`[smtp] smtp_tls_CAfile: cannot read ${path}: ${(err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`[smtp] smtp_tls_CAfile: ${path} holds no PEM certificate`);
  return pem;
}

export interface MtaOverrides {
  dns?: DnsLike;
}

export function smtpServices(ctx: ServerContext, overrides: MtaOverrides = {}): ServiceDefinition[] {
  const config = ctx.config;
  const s = config.smtp;
  if (s.port === 0 && s.submission_port === 0 && s.smtps_port === 0) return [];
  const hostName = myHostname(config, ctx.hostName);
  const clock = new AdjustableClock();
  const store = new QueueStore(ctx.dataDir);
  const resolver = makeAddressResolver(config, ctx.dataDir, ctx.auth, hostName);
  const mynetworks = new NetworkList(s.mynetworks);

  const ownLmtp = !s.lmtp_target;
  let localTarget: Transport & { kind: 'lmtp' };
  if (ownLmtp) {
    if (!config.lmtp.socket_path) throw new Error('[smtp] needs [lmtp] socket_path or [smtp] lmtp_target for local delivery');
    localTarget = { kind: 'lmtp', socketPath: ctx.dataPath(config.lmtp.socket_path) };
  } else {
    const parsed = parseTransport(s.lmtp_target);
    if (parsed.kind !== 'lmtp') throw new Error(`[smtp] lmtp_target must be an lmtp: transport, got "${s.lmtp_target}"`);
    localTarget = parsed;
  }

  const delivered = new DeliveredIds(async (user, fn) => {
    const storage = await openUserStorage(user, ctx.storage);
    try {
      const box = await storage.openMailbox('INBOX', { readOnly: true });
      try {
        return await fn(box);
      } finally {
        await box.close();
      }
    } finally {
      await storage.close();
    }
  });
  const qmgr = new QueueManager({
    store,
    clock,
    settings: {
      hostName,
      relayhost: s.relayhost,
      relayhostAuth: s.relayhost_username ? { user: s.relayhost_username, pass: s.relayhost_password } : undefined,
      tls: s.smtp_tls_security_level,
      tlsCa: s.smtp_tls_CAfile ? readCaFile(dataFile(ctx.dataDir, s.smtp_tls_CAfile)) : undefined,
      smtpPort: s.smtp_port,
      minimalBackoff: s.minimal_backoff_time,
      maximalBackoff: s.maximal_backoff_time,
      maximalQueueLifetime: s.maximal_queue_lifetime,
      bounceQueueLifetime: s.bounce_queue_lifetime,
      delayWarningTime: s.delay_warning_time,
      queueRunDelay: s.queue_run_delay,
      destinationConcurrency: s.default_destination_concurrency_limit,
      activeLimit: s.qmgr_message_active_limit,
    },
    localTarget,
    ownLmtp,
    alreadyDelivered: async (address, queueId) => {
      const user = await ctx.auth.resolveRecipient(address);
      return user ? delivered.has(user, queueId) : false;
    },
    transports: new TransportMap(s.transport_maps ? dataFile(ctx.dataDir, s.transport_maps) : ''),
    mx: new MxResolver(overrides.dns ?? makeResolver(dnsServers(s.dns_servers))),
    expandRecipient: async (address) => {
      const resolution = await resolver.resolve(address);
      if (!resolution.ok) return [];
      return queueRecipients([{ address, targets: resolution.targets }]);
    },
    tlsPolicy: new TlsPolicyMap(s.smtp_tls_policy_maps ? dataFile(ctx.dataDir, s.smtp_tls_policy_maps) : ''),
    localAgent: new LocalAgent({ defaultPrivs: s.default_privs, commandTimeLimitMs: s.command_time_limit, recipientDelimiter: config.lmtp.recipient_delimiter }),
  });

  const policy = new RelayPolicy({
    hostName,
    mynetworks,
    resolver,
    recipientLimit: s.smtpd_recipient_limit,
    senderLoginMatch: s.smtpd_sender_login_maps,
    connectionRateLimit: s.smtpd_client_connection_rate_limit,
    messageRateLimit: s.smtpd_client_message_rate_limit,
    clock,
  });

  const edge = new SmtpEdge<ResolvedTarget[]>(
    {
      hostName,
      banner: 'Roost',
      sizeLimit: s.message_size_limit,
      disableVrfy: s.disable_vrfy_command,
      tlsAuthOnly: s.smtpd_tls_auth_only,
      requireHelo: s.smtpd_helo_required,
      contextFor: (name) => ctx.tls.contextFor(name),
    },
    {
      connect: (client) => policy.connect(client),
      authenticate: async (client, user, password) => {
        const step = await ctx.auth.verifyPlain(user, password, { service: 'smtp', remoteIp: client.ip, secured: client.tls || isLoopback(client.ip), sessionId: client.sessionId });
        if (step.kind === 'success') {
          log.info({ session: client.sessionId, user: step.user.user, ip: client.ip }, 'sasl login');
          return { user: step.user.user };
        }
        log.info({ session: client.sessionId, ip: client.ip, temporary: step.kind === 'failure' && step.temporary }, 'sasl authentication failed');
        return { failure: step.kind === 'failure' && step.temporary ? 'temporary' : 'invalid' };
      },
      mailFrom: (client, sender, params) => policy.mailFrom(client, sender, params),
      rcptTo: async (client, sender, recipient, params, count) => {
        const v = await policy.rcptTo(client, sender, recipient, params, count);
        if (v.action === 'reject' || v.action === 'defer')
          log.info({ session: client.sessionId, ip: client.ip, from: sender, to: recipient }, `NOQUEUE: reject: RCPT from [${client.ip}]: ${v.code} ${v.status} ${v.text}; from=<${sender}> to=<${recipient}>`);
        return v;
      },
      queue: async (client, sender, params, accepted, content) => {
        const recipients = queueRecipients(accepted.map((a) => ({ address: a.address, notify: a.params.notify, orcpt: a.params.orcpt, targets: a.data })));
        const protocol = `ESMTP${client.tls ? 'S' : ''}${client.user ? 'A' : ''}`;
        const arrival = clock.now();
        if (!recipients.length) {
          // Every recipient went to /dev/null: accepted and discarded, as Postfix's "discard".
          for await (const _ of content) void _;
          const id = `DISCARD${arrival.toString(36).toUpperCase()}`;
          log.info({ session: client.sessionId, from: sender }, `${id}: from=<${sender}>, status=discarded (all recipients discarded)`);
          return { queueId: id };
        }
        const result = await queueMessage(store, {
          sender,
          recipients,
          client: { ip: client.ip, helo: client.helo, user: client.user, protocol },
          dsnRet: params.ret,
          envid: params.envid,
          arrivalTime: arrival,
          hostName,
          content,
          maxBytes: s.message_size_limit,
        });
        if (result.exceeded || content.sizeExceeded) return { action: 'reject', code: 552, status: '5.3.4', text: 'Error: message file too big' };
        log.info(
          { queueId: result.id, session: client.sessionId, from: sender, size: result.contentLength, nrcpt: recipients.length },
          `${result.id}: client=[${client.ip}]${client.user ? `, sasl_username=${client.user}` : ''}, from=<${sender}>, size=${result.contentLength}, nrcpt=${recipients.length} (queue active)`,
        );
        setImmediate(() => qmgr.arrived(result.id));
        return { queueId: result.id };
      },
    },
  );

  // The queue runs once Roost's own LMTP socket is bound (the listeners start after the services are built).
  const startQueue = (deadline: number) => {
    if (!ownLmtp || Date.now() > deadline) return qmgr.start();
    const probe = net.connect({ path: localTarget.socketPath! });
    probe.once('connect', () => {
      probe.destroy();
      qmgr.start();
    });
    probe.once('error', () => setTimeout(() => startQueue(deadline), 50).unref());
  };
  setImmediate(() => startQueue(Date.now() + 30_000));
  serveControl(controlSocketPath(ctx.dataDir), {
    flush: async () => {
      qmgr.flush();
      await qmgr.idle();
    },
    wakeup: () => {
      qmgr.scanDeferred();
      qmgr.pickup();
    },
    advanceClock: s.test_clock
      ? async (ms) => {
          clock.advance(ms);
          await qmgr.idle();
        }
      : undefined,
  });

  const roles: Record<string, ListenerRole> = { smtp: 'smtp', submission: 'submission', smtps: 'smtps' };
  return [
    {
      name: 'smtp',
      listeners: [
        { name: 'smtp', kind: 'tcp', port: s.port },
        { name: 'submission', kind: 'tcp', port: s.submission_port },
        { name: 'smtps', kind: 'tls', port: s.smtps_port },
      ],
      refusal: (reason) => (reason === 'too-many-from-ip' ? '421 4.7.0 Error: too many connections from your address\r\n' : '421 4.3.2 Error: too many connections\r\n'),
      createSession(conn) {
        const role = roles[conn.info.listener] ?? 'smtp';
        // Implicit TLS writes through its own TLS socket; plain connections get their replies batched per turn.
        if (role !== 'smtps') batchRepliesPerTurn(conn.rawSocket);
        edge.connect(role, conn.rawSocket, conn.id);
        return {
          shutdown: () => {
            conn.write('421 4.3.2 Server shutting down\r\n');
            conn.end();
          },
        };
      },
    },
  ];
}
