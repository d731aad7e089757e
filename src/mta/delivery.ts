// The SMTP delivery agent, as Postfix's smtp(8): nodemailer's SMTP client (RFC 5321) with STARTTLS (RFC 3207),
// AUTH (RFC 4954) and DSN (RFC 3461) parameters, one connection per transaction, certificates verified at the verify and
// secure levels (tls-policy.ts); the shapes every delivery agent shares (recipients, outcomes, endpoints). LMTP has its
// own client with a connection cache (lmtp-client.ts).
import net from 'node:net';
import type { PeerCertificate } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { Readable } from 'node:stream';
import { isVerificationError, matchPeer, verifies, type TlsLevel, type TlsPeer } from './tls-policy.js';

export interface DeliveryRecipient {
  index: number;
  address: string;
  original?: string;
  notify?: string[];
}

export interface RecipientOutcome {
  index: number;
  status: 'sent' | 'deferred' | 'bounced';
  /** RFC 3463 status, e.g. 2.0.0, 4.4.1, 5.1.1. */
  dsn: string;
  /** The remote reply or a description of what went wrong. */
  text: string;
  relay: string;
  /** No reply came because the connection was lost after the end of data: the message may have been delivered. */
  unacknowledged?: boolean;
}

export interface Endpoint {
  /** Shown as relay= in the log: "host[ip]:port" or "path". */
  label: string;
  connect(): net.Socket;
}

/** How to reach a server and set a session up (greeting, EHLO/LHLO, STARTTLS, AUTH). */
export interface SessionOptions {
  endpoint: Endpoint;
  lmtp: boolean;
  heloName: string;
  tls: TlsLevel;
  /** verify and secure: the trusted CAs and the names the certificate must match. */
  tlsPeer?: TlsPeer;
  auth?: { user: string; pass: string };
  timeoutMs?: number;
}

/** One mail transaction: MAIL, RCPT per recipient, DATA. */
export interface Transaction {
  sender: string;
  recipients: DeliveryRecipient[];
  /** The content (trace headers + message), a stream or, when it is small, the bytes themselves (in chunks). */
  content: () => Readable | Buffer[];
  size: number;
  dsn?: { ret?: 'FULL' | 'HDRS'; envid?: string };
  /**
   * LMTP: the end of data (after which the server delivers) is sent only once this resolves; when it rejects, the
   * connection is dropped before the end of data, so nothing is delivered, and every recipient defers.
   */
  beforeEnd?: Promise<void>;
}

export type SendOptions = SessionOptions & Transaction;

export function tcpEndpoint(host: string, port: number, name = host): Endpoint {
  return { label: `${name}[${host}]:${port}`, connect: () => net.connect({ host, port }) };
}

export function unixEndpoint(path: string): Endpoint {
  return { label: path, connect: () => net.connect({ path }) };
}

/** The content as nodemailer takes it: a stream, or the in-memory chunks as one buffer. */
function contentOf(tx: Transaction): Readable | Buffer {
  const content = tx.content();
  return Array.isArray(content) ? Buffer.concat(content) : content;
}

/** RFC 3463 status from a reply such as "550 5.1.1 <x> unknown", else derived from the reply code. */
export function statusOf(code: number | undefined, reply: string | undefined): string {
  const m = /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(reply ?? '');
  if (m) return m[1];
  if (!code) return '4.4.1';
  return code >= 500 ? '5.0.0' : code >= 400 ? '4.0.0' : '2.0.0';
}

function outcomeFromError(index: number, relay: string, err: SMTPConnection.SMTPError): RecipientOutcome {
  const code = err.responseCode;
  const text = (err.response ?? err.message).replace(/\s+/g, ' ').trim();
  const permanent = code !== undefined && code >= 500;
  return { index, status: permanent ? 'bounced' : 'deferred', dsn: statusOf(code, err.response), text, relay };
}

/** Connection-level trouble (refused, timeout, TLS required but absent): every recipient defers. */
export class ConnectionFailure extends Error {
  constructor(
    message: string,
    readonly dsn: string,
  ) {
    super(message);
  }
}

/** A 5xx greeting, EHLO or AUTH answer: permanent for every recipient of whatever was to be sent. */
class PermanentRefusal extends Error {
  constructor(readonly error: SMTPConnection.SMTPError) {
    super(error.message);
  }
}

/** A set-up session to one server. */
export class DeliverySession {
  /** Connection lost or the protocol state is unknown: never reused. */
  broken = false;
  private fail: ((err: ConnectionFailure) => void) | undefined;

  private constructor(
    private readonly client: SMTPConnection,
    private readonly socket: net.Socket,
    readonly relay: string,
    verifying = false,
  ) {
    client.on('error', (err: SMTPConnection.SMTPError & { originalCode?: string }) => {
      this.broken = true;
      const fail = this.fail;
      this.fail = undefined;
      // A certificate that does not verify (verify, secure) defers as Postfix does: 4.7.5, with the reason.
      const unverified = verifying && isVerificationError(err.originalCode);
      const reason = unverified ? `Server certificate not verified: ${err.message}` : err.message;
      fail?.(new ConnectionFailure(`${relay}: ${reason}`, err.code === 'ETLS' || unverified ? '4.7.5' : '4.4.2'));
      client.close();
    });
    client.on('end', () => {
      this.broken = true;
      const fail = this.fail;
      this.fail = undefined;
      fail?.(new ConnectionFailure(`${relay}: connection closed`, '4.4.2'));
    });
  }

  /** Connects and says EHLO/LHLO (with STARTTLS and AUTH as asked); rejects with ConnectionFailure or PermanentRefusal. */
  static open(opts: SessionOptions): Promise<DeliverySession> {
    const relay = opts.endpoint.label;
    return new Promise((resolve, reject) => {
      let socket: net.Socket;
      try {
        socket = opts.endpoint.connect();
      } catch (err) {
        return reject(new ConnectionFailure(`connect to ${relay}: ${(err as Error).message}`, '4.4.1'));
      }
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        fn();
      };
      const timeout = opts.timeoutMs ?? 300_000;
      const onConnectError = (err: Error) => finish(() => reject(new ConnectionFailure(`connect to ${relay}: ${err.message}`, '4.4.1')));
      socket.once('error', onConnectError);
      socket.setTimeout(timeout, () => {
        socket.destroy();
        finish(() => reject(new ConnectionFailure(`conversation with ${relay} timed out`, '4.4.2')));
      });
      socket.once('connect', () => {
        socket.off('error', onConnectError);
        const verifying = verifies(opts.tls);
        const peer = opts.tlsPeer ?? { names: [] };
        const sniName = peer.names.find((n) => !n.startsWith('.') && !net.isIP(n));
        const client = new SMTPConnection({
          connection: socket,
          lmtp: opts.lmtp,
          name: opts.heloName,
          ignoreTLS: opts.tls === 'none',
          opportunisticTLS: opts.tls === 'may',
          requireTLS: opts.tls === 'encrypt' || verifying,
          // may and encrypt take any certificate (Postfix: opportunistic or encrypted, unauthenticated).
          tls: verifying
            ? { rejectUnauthorized: true, ca: peer.ca, servername: sniName, checkServerIdentity: (_host: string, cert: PeerCertificate) => matchPeer(peer.names, cert) }
            : { rejectUnauthorized: false, servername: undefined },
          socketTimeout: timeout,
          greetingTimeout: 30_000,
          connectionTimeout: 30_000,
          logger: false,
        } as SMTPConnection.Options);
        const session = new DeliverySession(client, socket, relay, verifying);
        session.fail = (err) => finish(() => reject(err));
        client.connect((err) => {
          if (err) {
            session.broken = true;
            client.close();
            // A 5xx greeting or EHLO refusal: permanent for every recipient.
            if (err.responseCode && err.responseCode >= 500) return finish(() => reject(new PermanentRefusal(err)));
            return finish(() => reject(new ConnectionFailure(`${relay}: ${err.message}`, '4.4.2')));
          }
          if (!opts.auth) {
            session.fail = undefined;
            return finish(() => resolve(session));
          }
          client.login({ user: opts.auth.user, pass: opts.auth.pass }, (loginErr) => {
            if (loginErr) {
              session.broken = true;
              client.close();
              if (loginErr.responseCode && loginErr.responseCode >= 500) return finish(() => reject(new PermanentRefusal(loginErr)));
              return finish(() => reject(new ConnectionFailure(`${relay}: authentication failed: ${loginErr.message}`, '4.7.0')));
            }
            session.fail = undefined;
            finish(() => resolve(session));
          });
        });
      });
    });
  }

  /** One transaction; resolves with an outcome for every recipient, rejects with ConnectionFailure. */
  transact(tx: Transaction): Promise<RecipientOutcome[]> {
    const relay = this.relay;
    return new Promise((resolve, reject) => {
      if (this.broken) return reject(new ConnectionFailure(`${relay}: connection closed`, '4.4.2'));
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        this.fail = undefined;
        fn();
      };
      this.fail = (err) => finish(() => reject(err));
      const notify = tx.recipients[0]?.notify;
      this.client.send(
        {
          from: tx.sender,
          to: tx.recipients.map((r) => r.address),
          size: tx.size,
          use8BitMime: true,
          dsn: tx.dsn || notify ? { ret: tx.dsn?.ret === 'FULL' ? 'Full' : tx.dsn?.ret, envid: tx.dsn?.envid, notify: notify as SMTPConnection.DSNOption[] | undefined } : undefined,
        },
        contentOf(tx),
        (sendErr, info) => {
          if (sendErr && !(sendErr as { rejectedErrors?: unknown }).rejectedErrors) {
            // MAIL FROM or DATA failed as a whole (or the connection did).
            if (sendErr.code === 'ECONNECTION' || sendErr.code === 'ETIMEDOUT' || sendErr.code === 'ESOCKET')
              return finish(() => reject(new ConnectionFailure(`${relay}: ${sendErr.message}`, '4.4.2')));
            return finish(() => resolve(tx.recipients.map((r) => outcomeFromError(r.index, relay, sendErr))));
          }
          const rejectedErrors = (sendErr as { rejectedErrors?: SMTPConnection.SMTPError[] } | null)?.rejectedErrors ?? info?.rejectedErrors ?? [];
          const failed = new Map<string, SMTPConnection.SMTPError>();
          for (const e of rejectedErrors) {
            const rcpt = (e as { recipient?: string }).recipient;
            if (rcpt) failed.set(rcpt, e);
          }
          const outcomes: RecipientOutcome[] = [];
          for (const r of tx.recipients) {
            const e = failed.get(r.address);
            if (e) outcomes.push(outcomeFromError(r.index, relay, e));
            else outcomes.push({ index: r.index, status: 'sent', dsn: '2.0.0', text: (info?.response ?? '250 Ok').replace(/\s+/g, ' ').trim(), relay });
          }
          finish(() => resolve(outcomes));
        },
      );
    });
  }

  /** QUIT (or just close a broken session). */
  close(): void {
    if (this.broken) {
      this.client.close();
      this.socket.destroy();
      return;
    }
    this.broken = true;
    this.client.quit();
  }
}

/** One transaction on a connection of its own (SMTP to relayhost or MX hosts); resolves with an outcome for every recipient. */
export async function sendMessage(opts: SendOptions): Promise<RecipientOutcome[]> {
  let session: DeliverySession;
  try {
    session = await DeliverySession.open(opts);
  } catch (err) {
    if (err instanceof PermanentRefusal) return opts.recipients.map((r) => outcomeFromError(r.index, opts.endpoint.label, err.error));
    throw err;
  }
  try {
    return await session.transact(opts);
  } finally {
    session.close();
  }
}
