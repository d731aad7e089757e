// The SMTP edge (RFC 5321) with the smtp-server library: SMTP in with STARTTLS (RFC 3207), submission
// (RFC 6409; AUTH only after STARTTLS) and implicit TLS (RFC 8314); ESMTP PIPELINING, SIZE (RFC 1870), 8BITMIME,
// ENHANCEDSTATUSCODES (RFC 2034/3463), SMTPUTF8 (RFC 6531), DSN (RFC 3461), AUTH (RFC 4954). Policy and queueing
// are the caller's hooks: this file strips the protocol and hands on a neutral envelope, as Postfix's smtpd.
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication, type SMTPServerAuthenticationResponse, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type tls from 'node:tls';
import type { Socket } from 'node:net';
import { getLogger } from '../../lib/logger.js';

const log = getLogger({ component: 'smtpd' });

export type ListenerRole = 'smtp' | 'submission' | 'smtps';

/** A policy check's answer, as Haraka's hooks: go on to the next check, accept now, or refuse (5xx) / defer (4xx). */
export type Verdict = { action: 'continue' } | { action: 'accept' } | { action: 'reject' | 'defer'; code: number; status: string; text: string };

export interface SmtpClient {
  sessionId: string;
  role: ListenerRole;
  ip: string;
  helo: string;
  tls: boolean;
  /** The authenticated user name, if any. */
  user?: string;
}

export interface MailParams {
  size?: number;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  smtputf8: boolean;
}

export interface RcptParams {
  notify?: string[];
  orcpt?: string;
}

export interface AcceptedRecipient<T> {
  address: string;
  params: RcptParams;
  /** What the recipient check found out (expanded targets), handed to queue(). */
  data: T;
}

export interface SmtpEdgeHooks<T> {
  /** At connect: rate limits and client checks. */
  connect(client: SmtpClient): Verdict;
  /** Login with a plaintext mechanism (PLAIN or LOGIN); resolves to the user name or null. */
  authenticate(client: SmtpClient, user: string, password: string): Promise<{ user: string } | { failure: 'invalid' | 'temporary' }>;
  mailFrom(client: SmtpClient, sender: string, params: MailParams): Promise<Verdict>;
  rcptTo(client: SmtpClient, sender: string, recipient: string, params: RcptParams, count: number): Promise<Verdict & { data?: T }>;
  /** Queues the message; resolves to the queue id once it is durable, or a verdict (e.g. size exceeded). */
  queue(client: SmtpClient, sender: string, params: MailParams, recipients: AcceptedRecipient<T>[], content: SMTPServerDataStream): Promise<{ queueId: string } | Verdict>;
}

export interface SmtpEdgeOptions {
  hostName: string;
  banner: string;
  sizeLimit: number;
  disableVrfy: boolean;
  /** Offer AUTH on port 25 only after STARTTLS (smtpd_tls_auth_only). */
  tlsAuthOnly: boolean;
  requireHelo: boolean;
  contextFor(serverName: string | undefined): tls.SecureContext;
}

interface SessionState<T> {
  client: SmtpClient;
  mailParams: MailParams;
  recipients: AcceptedRecipient<T>[];
}

export function smtpReply(code: number, status: string, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(`${status} ${text}`), { responseCode: code });
}

function verdictError(v: Verdict): Error | null {
  if (v.action === 'reject' || v.action === 'defer') return smtpReply(v.code, v.status, v.text);
  return null;
}

/** The connection objects smtp-server creates; send() is wrapped so replies that carry their own RFC 3463 code keep it. */
interface ConnectionWithSend {
  send(code: number, data: string | string[], context?: string | false): void;
}

/** Builds one smtp-server instance per listener role; each connection is fed from Roost's own listeners. */
export class SmtpEdge<T> {
  private readonly servers = new Map<ListenerRole, SMTPServer>();
  private readonly states = new WeakMap<SMTPServerSession, SessionState<T>>();

  constructor(
    private readonly opts: SmtpEdgeOptions,
    private readonly hooks: SmtpEdgeHooks<T>,
  ) {
    for (const role of ['smtp', 'submission', 'smtps'] as const) this.servers.set(role, this.makeServer(role));
  }

  private stateOf(session: SMTPServerSession, role: ListenerRole): SessionState<T> {
    let st = this.states.get(session);
    if (!st) {
      st = {
        client: { sessionId: session.id, role, ip: session.remoteAddress, helo: '', tls: session.secure },
        mailParams: { smtputf8: false },
        recipients: [],
      };
      this.states.set(session, st);
    }
    st.client.tls = session.secure;
    st.client.helo = session.hostNameAppearsAs || '';
    const user = (session.user as { user?: string } | undefined)?.user;
    st.client.user = user;
    return st;
  }

  private makeServer(role: ListenerRole): SMTPServer {
    const o = this.opts;
    const authAfterTls = role === 'submission' || o.tlsAuthOnly;
    const server: SMTPServer = new SMTPServer({
      name: o.hostName,
      banner: o.banner,
      logger: false,
      secure: role === 'smtps',
      size: o.sizeLimit,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: false,
      hidePIPELINING: false,
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: role === 'smtp',
      allowInsecureAuth: false,
      disabledCommands: o.disableVrfy ? ['VRFY'] : [],
      disableReverseLookup: true,
      maxAllowedUnauthenticatedCommands: role === 'smtp' ? false : 20,
      SNICallback: (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => cb(null, o.contextFor(name)),
      onConnect: (session, callback) => {
        const st = this.stateOf(session, role);
        // Before TLS, AUTH is neither offered nor accepted where it must follow STARTTLS.
        const disabled = o.disableVrfy ? ['VRFY'] : [];
        (session as { disabledCommands?: string[] }).disabledCommands = authAfterTls && !session.secure ? [...disabled, 'AUTH'] : disabled;
        callback(verdictError(this.hooks.connect(st.client)));
      },
      onSecure: (_socket, session, callback) => {
        (session as { disabledCommands?: string[] }).disabledCommands = o.disableVrfy ? ['VRFY'] : [];
        callback();
      },
      onAuth: (auth: SMTPServerAuthentication, session, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void) => {
        const st = this.stateOf(session, role);
        if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') return callback(smtpReply(504, '5.5.4', 'Unrecognized authentication type'));
        this.hooks
          .authenticate(st.client, auth.username ?? '', auth.password ?? '')
          .then((result) => {
            if ('user' in result) return callback(null, { user: { user: result.user } });
            if (result.failure === 'temporary') return callback(smtpReply(454, '4.7.0', 'Temporary authentication failure'));
            callback(smtpReply(535, '5.7.8', 'Error: authentication failed'));
          })
          .catch(() => callback(smtpReply(454, '4.7.0', 'Temporary authentication failure')));
      },
      onMailFrom: (address: SMTPServerAddress, session, callback) => {
        const st = this.stateOf(session, role);
        st.recipients = [];
        const args = (address.args || {}) as Record<string, string | boolean>;
        const ret = typeof args.RET === 'string' ? (args.RET.toUpperCase() as 'FULL' | 'HDRS') : undefined;
        st.mailParams = {
          size: typeof args.SIZE === 'string' ? Number(args.SIZE) : undefined,
          ret: ret === 'FULL' || ret === 'HDRS' ? ret : undefined,
          envid: typeof args.ENVID === 'string' ? args.ENVID : undefined,
          smtputf8: args.SMTPUTF8 === true,
        };
        if (o.requireHelo && !st.client.helo) return callback(smtpReply(503, '5.5.1', 'Error: send HELO/EHLO first'));
        if (role !== 'smtp' && !st.client.user) return callback(smtpReply(530, '5.7.0', 'Authentication required'));
        this.hooks
          .mailFrom(st.client, address.address, st.mailParams)
          .then((v) => callback(verdictError(v)))
          .catch((err) => {
            log.error({ err: (err as Error).message }, 'sender check failed');
            callback(smtpReply(451, '4.3.0', 'Temporary internal failure'));
          });
      },
      onRcptTo: (address: SMTPServerAddress, session, callback) => {
        const st = this.stateOf(session, role);
        const args = (address.args || {}) as Record<string, string | boolean>;
        const params: RcptParams = {
          notify: typeof args.NOTIFY === 'string' ? args.NOTIFY.toUpperCase().split(',') : undefined,
          orcpt: typeof args.ORCPT === 'string' ? args.ORCPT : undefined,
        };
        const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        this.hooks
          .rcptTo(st.client, sender, address.address, params, st.recipients.length)
          .then((v) => {
            const err = verdictError(v);
            if (!err) st.recipients.push({ address: address.address, params, data: v.data as T });
            callback(err);
          })
          .catch((err) => {
            log.error({ err: (err as Error).message }, 'recipient check failed');
            callback(smtpReply(451, '4.3.0', 'Temporary internal failure'));
          });
      },
      onData: (stream: SMTPServerDataStream, session, callback: (err?: Error | null, message?: string) => void) => {
        const st = this.stateOf(session, role);
        const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const recipients = st.recipients;
        st.recipients = [];
        this.hooks
          .queue(st.client, sender, st.mailParams, recipients, stream)
          .then((result) => {
            if ('queueId' in result) callback(null, `2.0.0 Ok: queued as ${result.queueId}`);
            else callback(verdictError(result) ?? smtpReply(451, '4.3.0', 'Temporary internal failure'));
          })
          .catch((err) => {
            log.error({ err: (err as Error).message }, 'queueing failed');
            stream.resume();
            callback(smtpReply(451, '4.3.0', 'Error: queue file write error'));
          });
      },
    });
    // No listening socket: connections come from Roost's listeners through connect().
    server.on('error', (err) => log.debug({ err: err.message }, 'smtp connection error'));
    return server;
  }

  /** Hands an accepted socket (plain for smtp/submission, TLS for smtps) to the role's smtp-server. */
  connect(role: ListenerRole, socket: Socket, id: string): void {
    const server = this.servers.get(role)!;
    // Without SNI, smtp-server uses its '*' context: make that Roost's certificate (current after a reload).
    (server as unknown as { secureContext: Map<string, tls.SecureContext> }).secureContext.set('*', this.opts.contextFor(undefined));
    server.connect(socket, { id } as unknown as Parameters<SMTPServer['connect']>[1]);
    const connections = (server as unknown as { connections: Set<ConnectionWithSend> }).connections;
    const conn = [...connections].pop();
    if (conn) {
      const send = conn.send.bind(conn);
      conn.send = (code, data, context) => {
        if (typeof data === 'string') {
          const m = /^(\d\.\d{1,3}\.\d{1,3}) ([^]*)$/.exec(data);
          if (m) return send(code, data, false);
        }
        return send(code, data, context);
      };
    }
  }
}
