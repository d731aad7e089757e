// LMTP delivery (RFC 2033) on TCP and run/lmtp, through the smtp-server library in LMTP mode:
// recipients checked at RCPT through the userdb, one reply per recipient after DATA, 250 only once durable.
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession, type SMTPServerAddress, type SMTPServerDataResult } from 'smtp-server';
import { randomBytes } from 'node:crypto';
import type { ServiceDefinition } from '../../server/service.js';
import type { ServerContext } from '../../server/context.js';
import { getLogger } from '../../lib/logger.js';
import { deliverMessage, type Recipient } from './deliver.js';
import { FoundCache } from './found-cache.js';
import { batchRepliesPerTurn } from './reply-batch.js';
import type { UserRecord } from '../../auth/service.js';

const log = getLogger({ component: 'lmtp' });

/** SMTP errors that carry their own reply code (smtp-server reads responseCode). */
export function smtpError(code: number, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

function splitDetail(address: string, delimiters: string): { base: string; detail?: string } {
  const at = address.lastIndexOf('@');
  const local = at >= 0 ? address.slice(0, at) : address;
  const domain = at >= 0 ? address.slice(at) : '';
  if (!delimiters) return { base: address };
  for (let i = 0; i < local.length; i++) {
    if (delimiters.includes(local[i])) return { base: local.slice(0, i) + domain, detail: local.slice(i + 1) };
  }
  return { base: address };
}

export function lmtpServices(ctx: ServerContext): ServiceDefinition[] {
  const cfg = ctx.config.lmtp;
  const recipients = new WeakMap<SMTPServerSession, Recipient[]>();
  const found = new FoundCache<UserRecord>();

  const server = new SMTPServer({
    lmtp: true,
    name: ctx.hostName,
    banner: 'Roost LMTP ready',
    logger: false,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideSTARTTLS: true,
    authOptional: true,
    size: cfg.max_message_size || undefined,
    maxClients: ctx.config.server.max_connections,
    // Our own listeners accept the sockets; this instance never listens itself.
    async onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      try {
        const { base, detail } = splitDetail(address.address, cfg.recipient_delimiter);
        const user = await found.get(address.address.toLowerCase(), () => ctx.auth.resolveRecipient(address.address));
        if (!user) return callback(smtpError(550, `5.1.1 <${address.address}> User doesn't exist: ${base}`));
        const list = recipients.get(session) ?? [];
        list.push({ address: address.address, user, detail });
        recipients.set(session, list);
        callback();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'recipient lookup failed');
        callback(smtpError(451, '4.3.0 Temporary internal failure'));
      }
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string | SMTPServerDataResult[]) => void) {
      const list = recipients.get(session) ?? [];
      recipients.delete(session);
      const sessionId = session.id ?? randomBytes(8).toString('hex');
      deliverMessage(ctx, stream, list, {
        sender: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        clientHelo: session.hostNameAppearsAs || 'unknown',
        clientIp: session.remoteAddress || '127.0.0.1',
        sessionId,
      }, cfg.max_message_size)
        .then((results) => callback(null, results as unknown as SMTPServerDataResult[]))
        .catch((err: Error) => {
          log.error({ err: err.message }, 'delivery failed');
          callback(smtpError(451, '4.3.0 Temporary internal failure'));
        });
    },
  });

  const definition: ServiceDefinition = {
    name: 'lmtp',
    perIpLimit: false,
    listeners: [
      { name: 'lmtp', kind: 'tcp', port: cfg.port },
      { name: 'lmtp-unix', kind: 'unix', path: cfg.socket_path ? ctx.dataPath(cfg.socket_path) : undefined, mode: 0o666 },
    ],
    createSession(conn) {
      batchRepliesPerTurn(conn.rawSocket);
      server.connect(conn.rawSocket, { id: conn.id });
      return {
        shutdown: () => {
          conn.write('421 4.3.2 Server shutting down\r\n');
          conn.end();
        },
      };
    },
  };
  return [definition];
}
