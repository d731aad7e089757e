// Delivery agents, as Postfix's lmtp(8) and smtp(8): nodemailer's SMTP client speaking LMTP (RFC 2033, one
// reply per recipient) or SMTP (RFC 5321) with STARTTLS (RFC 3207), AUTH (RFC 4954) and DSN (RFC 3461) parameters.
import net from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { Readable } from 'node:stream';

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
}

export interface Endpoint {
  /** Shown as relay= in the log: "host[ip]:port" or "path". */
  label: string;
  connect(): net.Socket;
}

export interface SendOptions {
  endpoint: Endpoint;
  lmtp: boolean;
  heloName: string;
  sender: string;
  recipients: DeliveryRecipient[];
  content: () => Readable;
  size: number;
  tls: 'none' | 'may' | 'encrypt';
  auth?: { user: string; pass: string };
  dsn?: { ret?: 'FULL' | 'HDRS'; envid?: string };
  timeoutMs?: number;
}

export function tcpEndpoint(host: string, port: number, name = host): Endpoint {
  return { label: `${name}[${host}]:${port}`, connect: () => net.connect({ host, port }) };
}

export function unixEndpoint(path: string): Endpoint {
  return { label: path, connect: () => net.connect({ path }) };
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

/** One transaction to one server; resolves with an outcome for every recipient. */
export function sendMessage(opts: SendOptions): Promise<RecipientOutcome[]> {
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
      const client = new SMTPConnection({
        connection: socket,
        lmtp: opts.lmtp,
        name: opts.heloName,
        ignoreTLS: opts.tls === 'none',
        opportunisticTLS: opts.tls === 'may',
        requireTLS: opts.tls === 'encrypt',
        tls: { rejectUnauthorized: opts.tls === 'encrypt' ? false : false, servername: undefined },
        socketTimeout: timeout,
        greetingTimeout: 30_000,
        connectionTimeout: 30_000,
        logger: false,
      } as SMTPConnection.Options);
      client.on('error', (err: SMTPConnection.SMTPError) => {
        finish(() => reject(new ConnectionFailure(`${relay}: ${err.message}`, err.code === 'ETLS' ? '4.7.5' : '4.4.2')));
        client.close();
      });
      client.connect((err) => {
        if (err) {
          const code = err.responseCode;
          if (code && code >= 500) {
            // A 5xx greeting or EHLO refusal: permanent for every recipient.
            return finish(() => resolve(opts.recipients.map((r) => outcomeFromError(r.index, relay, err))));
          }
          return finish(() => reject(new ConnectionFailure(`${relay}: ${err.message}`, '4.4.2')));
        }
        const afterAuth = () => {
          const byAddress = new Map<string, DeliveryRecipient[]>();
          for (const r of opts.recipients) byAddress.set(r.address, [...(byAddress.get(r.address) ?? []), r]);
          const notify = opts.recipients[0]?.notify;
          client.send(
            {
              from: opts.sender,
              to: opts.recipients.map((r) => r.address),
              size: opts.size,
              use8BitMime: true,
              dsn: opts.dsn || notify ? { ret: opts.dsn?.ret === 'FULL' ? 'Full' : opts.dsn?.ret, envid: opts.dsn?.envid, notify: notify as SMTPConnection.DSNOption[] | undefined } : undefined,
            },
            opts.content(),
            (sendErr, info) => {
              const outcomes: RecipientOutcome[] = [];
              if (sendErr && !(sendErr as { rejectedErrors?: unknown }).rejectedErrors) {
                // MAIL FROM or DATA failed as a whole.
                finish(() => resolve(opts.recipients.map((r) => outcomeFromError(r.index, relay, sendErr))));
                client.quit();
                return;
              }
              const rejectedErrors = (sendErr as { rejectedErrors?: SMTPConnection.SMTPError[] } | null)?.rejectedErrors ?? info?.rejectedErrors ?? [];
              const failed = new Map<string, SMTPConnection.SMTPError>();
              for (const e of rejectedErrors) {
                const rcpt = (e as { recipient?: string }).recipient;
                if (rcpt) failed.set(rcpt, e);
              }
              for (const r of opts.recipients) {
                const e = failed.get(r.address);
                if (e) outcomes.push(outcomeFromError(r.index, relay, e));
                else outcomes.push({ index: r.index, status: 'sent', dsn: '2.0.0', text: (info?.response ?? '250 Ok').replace(/\s+/g, ' ').trim(), relay });
              }
              finish(() => resolve(outcomes));
              client.quit();
            },
          );
        };
        if (opts.auth) {
          client.login({ user: opts.auth.user, pass: opts.auth.pass }, (loginErr) => {
            if (loginErr) {
              const code = loginErr.responseCode;
              if (code && code >= 500) return finish(() => resolve(opts.recipients.map((r) => outcomeFromError(r.index, relay, loginErr))));
              return finish(() => reject(new ConnectionFailure(`${relay}: authentication failed: ${loginErr.message}`, '4.7.0')));
            }
            afterAuth();
          });
        } else afterAuth();
      });
    });
  });
}
