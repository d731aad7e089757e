// One POP3 connection (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH): reads command lines,
// checks the state against the command table, runs commands one at a time (pipelining-safe).
import { randomBytes } from 'node:crypto';
import type { Connection } from '../../server/connection.js';
import type { ServerContext } from '../../server/context.js';
import type { Session } from '../../server/service.js';
import { LineReader } from '../../lib/line-reader.js';
import type { Logger } from '../../lib/logger.js';
import type { UserRecord } from '../../auth/service.js';
import { pop3Commands } from './registry.js';
import type { Pop3SessionApi, Pop3State } from './types.js';
import { Maildrop, MaildropLockedError } from './maildrop.js';

/** RFC 2449: a command line is at most 255 octets; Dovecot allows more. Beyond this, -ERR. */
const MAX_LINE = 4096;
/** An unfinished line beyond this closes the connection, as Dovecot does. */
const FAR_OVER_LIMIT = 64 * 1024;
const MAX_BAD_COMMANDS = 20;
/**
 * Multi-line answers wait for the socket to drain only after this much output since the last wait (the connection's
 * write batch): pipelined RETRs of small messages leave in batched writes, not one write and one wait per message.
 */
const DRAIN_EVERY_BYTES = 64 * 1024;
/** Queued commands looked at for read-ahead (pipelined RETRs). */
const READ_AHEAD_DEPTH = 8;

export class Pop3Session implements Session, Pop3SessionApi {
  state: Pop3State = 'authorization';
  pendingUser: string | undefined;
  maildrop: Maildrop | undefined;
  readonly apopTimestamp: string;
  readonly log: Logger;
  private readonly reader = new LineReader(MAX_LINE);
  private readonly queue: (Buffer | 'overflow')[] = [];
  private lineWaiter: ((line: string | null) => void) | undefined;
  private busy = false;
  private closed = false;
  private badCommands = 0;
  /** Bytes written since the last wait for the socket to drain. */
  private undrained = 0;
  /** Queued lines already looked at by readAhead() (the front of the queue). */
  private readAheadSeen = 0;

  constructor(
    readonly conn: Connection,
    readonly ctx: ServerContext,
  ) {
    this.log = conn.log;
    this.apopTimestamp = `<${process.pid}.${randomBytes(8).toString('hex')}@${ctx.hostName}>`;
    conn.on('data', (chunk: Buffer) => this.onData(chunk));
    conn.on('close', () => this.onClose());
    conn.setIdleTimeout(ctx.config.server.preauth_timeout, () => this.timeout());
    this.write(`+OK ${ctx.config.server.login_greeting} ${this.apopTimestamp}\r\n`);
  }

  private onData(chunk: Buffer): void {
    for (const ev of this.reader.push(chunk)) this.queue.push(ev.kind === 'line' ? ev.line : 'overflow');
    if (this.reader.bufferedBytes > FAR_OVER_LIMIT) {
      this.log.info('line far over the limit; closing');
      this.err('Input line too long.');
      return this.close();
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    // Answers to pipelined commands leave together once the queue is empty (readLine releases them first).
    this.conn.holdOutput();
    try {
      while (this.queue.length && !this.closed) {
        const item = this.queue.shift()!;
        if (this.readAheadSeen > 0) this.readAheadSeen--;
        if (this.lineWaiter) {
          const w = this.lineWaiter;
          this.lineWaiter = undefined;
          w(item === 'overflow' ? '' : item.toString('latin1'));
          continue;
        }
        if (item === 'overflow') {
          this.err('Input line too long.');
          continue;
        }
        this.readAhead();
        await this.dispatch(item.toString('latin1'));
      }
    } finally {
      this.busy = false;
      this.conn.releaseOutput();
    }
  }

  /**
   * Starts reading the messages of RETR commands waiting in the queue (pipelined downloads). Each queued line is
   * looked at once, as bytes: "RETR", a space and up to 9 digits, in any case, with optional spaces around.
   */
  private readAhead(): void {
    if (!this.maildrop) return;
    const end = Math.min(this.queue.length, READ_AHEAD_DEPTH);
    for (let k = this.readAheadSeen; k < end; k++) {
      const n = retrNumber(this.queue[k]!);
      if (n > 0) this.maildrop.prefetch(n - 1);
    }
    if (end > this.readAheadSeen) this.readAheadSeen = end;
  }

  private async dispatch(line: string): Promise<void> {
    const trimmed = line.replace(/^\s+/, '');
    const space = trimmed.indexOf(' ');
    const name = (space < 0 ? trimmed : trimmed.slice(0, space)).toUpperCase();
    const rawArgs = space < 0 ? '' : trimmed.slice(space + 1);
    const args = rawArgs.split(' ').filter((a) => a.length > 0);
    const command = pop3Commands.get(name);
    if (!command || name.includes('\0')) {
      this.log.info({ command: name.slice(0, 20) }, 'unknown command');
      if (++this.badCommands >= MAX_BAD_COMMANDS) {
        this.err('Too many bad commands.');
        return this.close();
      }
      return this.err(this.state === 'authorization' ? 'Unknown command.' : `Unknown command: ${name.slice(0, 64)}`);
    }
    if (!command.states.includes(this.state)) {
      return this.err(this.state === 'authorization' ? 'Unknown command.' : `${name} is not allowed now.`);
    }
    const started = Date.now();
    try {
      await command.run(this, args, rawArgs);
    } catch (err) {
      this.log.error({ command: name, err: (err as Error).message }, 'command failed');
      this.err('Internal error occurred. Refer to server log for more information.', 'SYS/TEMP');
    }
    // Never log the arguments of commands that carry credentials. One line per command at debug, as Dovecot: a
    // pipelined download of 10,000 messages is 10,000 commands.
    this.log.debug({ command: name, ms: Date.now() - started, user: this.maildrop?.user }, 'command');
  }

  readLine(): Promise<string | null> {
    if (this.closed) return Promise.resolve(null);
    const next = this.queue.shift();
    if (next !== undefined && this.readAheadSeen > 0) this.readAheadSeen--;
    if (next !== undefined) return Promise.resolve(next === 'overflow' ? '' : next.toString('latin1'));
    this.conn.releaseOutput();
    return new Promise((resolve) => (this.lineWaiter = resolve));
  }

  ok(text = ''): void {
    this.write(text ? `+OK ${text}\r\n` : '+OK\r\n');
  }

  err(text: string, code?: string): void {
    this.write(code ? `-ERR [${code}] ${text}\r\n` : `-ERR ${text}\r\n`);
  }

  write(data: Buffer | string, onWritten?: () => void): void {
    this.undrained += data.length;
    this.conn.write(data, onWritten);
  }

  drain(): Promise<void> {
    if (this.undrained < DRAIN_EVERY_BYTES) return Promise.resolve();
    this.undrained = 0;
    return this.conn.drain();
  }

  async startTls(): Promise<void> {
    // Anything the client pipelined after STLS arrived in plaintext and is discarded (RFC 2595 section 4).
    this.reader.reset();
    this.queue.length = 0;
    this.readAheadSeen = 0;
    await this.conn.startTls();
  }

  async enterTransaction(user: string, userRecord: UserRecord): Promise<void> {
    try {
      this.maildrop = await Maildrop.open(user, userRecord, this.ctx, this.log);
    } catch (err) {
      if (err instanceof MaildropLockedError) {
        return this.err('Mailbox is locked by another POP3 session.', 'IN-USE');
      }
      this.log.error({ user, err: (err as Error).message }, 'cannot open maildrop');
      return this.err('Temporary error opening the mailbox.', 'SYS/TEMP');
    }
    this.state = 'transaction';
    this.conn.setIdleTimeout(this.ctx.config.imap.imap_client_timeout, () => this.timeout());
    this.log.info({ user, messages: this.maildrop.count }, 'login');
    this.ok('Logged in.');
  }

  private timeout(): void {
    this.log.info({ state: this.state }, 'idle timeout');
    this.err('Disconnected for inactivity.');
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.end();
    void this.maildrop?.release();
  }

  private onClose(): void {
    this.closed = true;
    this.lineWaiter?.(null);
    this.lineWaiter = undefined;
    // A dropped connection deletes nothing (RFC 1939 section 6): the maildrop is released untouched.
    void this.maildrop?.release();
  }

  shutdown(): void {
    this.err('Server shutting down.', 'SYS/TEMP');
    this.close();
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;

/** The message number of a queued "RETR n" line (n of 1 to 9 digits), else 0; other lines and overflows give 0. */
function retrNumber(item: Buffer | 'overflow'): number {
  if (item === 'overflow' || item.length > 20) return 0;
  let i = 0;
  while (i < item.length && (item[i] === SPACE || item[i] === TAB)) i++;
  if (item.length - i < 6 || (item[i]! | 0x20) !== 0x72 || (item[i + 1]! | 0x20) !== 0x65 || (item[i + 2]! | 0x20) !== 0x74 || (item[i + 3]! | 0x20) !== 0x72 || item[i + 4] !== SPACE) return 0;
  i += 5;
  let n = 0;
  let digits = 0;
  for (; i < item.length && item[i]! >= 0x30 && item[i]! <= 0x39; i++, digits++) n = n * 10 + item[i]! - 0x30;
  while (i < item.length && (item[i] === SPACE || item[i] === TAB || item[i] === CR)) i++;
  return digits >= 1 && digits <= 9 && i === item.length ? n : 0;
}
