// The LMTP client of the queue manager, as Postfix's lmtp(8) with its connection cache: LHLO once per
// connection (RFC 2033), MAIL, RCPT and DATA sent as one group where the server offers PIPELINING (RFC 2920), the
// content dot-stuffed with CRLF line ends (RFC 5321 4.5.2), one reply per accepted recipient after the final dot.
// A connection carries one transaction after another; each recipient's reply is final as soon as it is read, so a
// connection lost in the middle leaves only the recipients without a reply to be tried again.
import net from 'node:net';
import type { Readable } from 'node:stream';
import { statusOf, type DeliveryRecipient, type Endpoint, type RecipientOutcome, type Transaction } from './delivery.js';

/** A reply: its code and its lines joined by newlines ("250-a" and "250 b" → "250-a\n250 b"). */
interface Reply {
  code: number;
  text: string;
}

/** The connection went away or timed out while a reply was awaited. */
class Lost extends Error {}

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const INSERT_CR = Buffer.from('\r');
const INSERT_LF = Buffer.from('\n');
const INSERT_LF_DOT = Buffer.from('\n.');
const INSERT_DOT = Buffer.from('.');

/**
 * DATA content encoding (RFC 5321 4.5.2): a line that starts with "." gets a second one, bare CR and bare LF
 * become CRLF (so no receiver can see an end of data the sender did not mean). Chunk by chunk, finding line ends
 * with native searches; a well-formed chunk without leading dots comes back unchanged, not copied.
 */
export class DataEncoder {
  /** The last byte seen; LF at the start, so a leading dot is stuffed. */
  private prev = LF;

  encode(chunk: Buffer): Buffer {
    const n = chunk.length;
    if (n === 0) return chunk;
    const out: Buffer[] = [];
    let from = 0;
    const insert = (at: number, bytes: Buffer) => {
      if (at > from) out.push(chunk.subarray(from, at));
      out.push(bytes);
      from = at;
    };
    if (this.prev === CR && chunk[0] !== LF) insert(0, chunk[0] === DOT ? INSERT_LF_DOT : INSERT_LF);
    else if (this.prev === LF && chunk[0] === DOT) insert(0, INSERT_DOT);
    let cr = chunk.indexOf(CR);
    let lf = chunk.indexOf(LF);
    while (cr !== -1 || lf !== -1) {
      if (lf === -1 || (cr !== -1 && cr < lf)) {
        // A CR not followed by LF is a line end of its own (at the chunk's end the next chunk decides).
        if (cr + 1 < n && chunk[cr + 1] !== LF) insert(cr + 1, chunk[cr + 1] === DOT ? INSERT_LF_DOT : INSERT_LF);
        cr = chunk.indexOf(CR, cr + 1);
      } else {
        if ((lf > 0 ? chunk[lf - 1] : this.prev) !== CR) insert(lf, INSERT_CR);
        if (lf + 1 < n && chunk[lf + 1] === DOT) insert(lf + 1, INSERT_DOT);
        lf = chunk.indexOf(LF, lf + 1);
      }
    }
    this.prev = chunk[n - 1];
    if (out.length === 0) return chunk;
    out.push(chunk.subarray(from));
    return Buffer.concat(out);
  }

  /** The end of data: ".\r\n" after a complete line, else the line is ended first. */
  end(): Buffer {
    return Buffer.from(this.prev === LF ? '.\r\n' : this.prev === CR ? '\n.\r\n' : '\r\n.\r\n');
  }
}

/** xtext (RFC 3461 4): "+" and "=" and bytes outside 33..126 as +HH. */
function xtext(value: string): string {
  return Buffer.from(value, 'utf8')
    .toString('latin1')
    .replace(/[^\x21-\x2a\x2c-\x3c\x3e-\x7e]/g, (c) => '+' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** Thrown by open() when the server refuses the session with a 5xx greeting or LHLO reply. */
export class LmtpRefusal extends Error {
  constructor(readonly reply: Reply) {
    super(reply.text);
  }
}

/** Thrown by open() when the server cannot be reached or does not answer (every recipient defers). */
export class LmtpUnavailable extends Error {
  constructor(
    message: string,
    readonly dsn: string,
  ) {
    super(message);
  }
}

export interface LmtpSessionOptions {
  endpoint: Endpoint;
  heloName: string;
  /** Ceiling for any one reply (default 300 s, Postfix's lmtp_data_done_timeout is 600 s). */
  timeoutMs?: number;
}

/** One LMTP connection after LHLO, ready for transactions one after another. */
export class LmtpSession {
  /** The connection is gone or in an unknown state: never used again. */
  broken = false;
  /** Transactions done on this connection (the first is 1). */
  transactions = 0;
  private buffered = '';
  private lines: string[] = [];
  private readonly waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private readonly ready: Reply[] = [];
  private lostWith: Error | undefined;
  /** A transaction ended in a state that needs RSET before the next MAIL. */
  private dirty = false;
  private readonly extensions = new Set<string>();

  private constructor(
    private readonly socket: net.Socket,
    readonly relay: string,
    timeoutMs: number,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs, () => this.lose(new Lost(`conversation with ${relay} timed out`)));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.lose(new Lost(`${relay}: ${err.message}`)));
    socket.on('close', () => this.lose(new Lost(`${relay}: connection closed`)));
  }

  /** Connects, reads the greeting and says LHLO. */
  static async open(opts: LmtpSessionOptions): Promise<LmtpSession> {
    const relay = opts.endpoint.label;
    const timeoutMs = opts.timeoutMs ?? 300_000;
    let socket: net.Socket;
    try {
      socket = opts.endpoint.connect();
    } catch (err) {
      throw new LmtpUnavailable(`connect to ${relay}: ${(err as Error).message}`, '4.4.1');
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new LmtpUnavailable(`connect to ${relay}: timed out`, '4.4.1'));
      }, Math.min(timeoutMs, 30_000));
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new LmtpUnavailable(`connect to ${relay}: ${err.message}`, '4.4.1'));
      });
    });
    const session = new LmtpSession(socket, relay, timeoutMs);
    try {
      const greeting = await session.reply();
      if (greeting.code !== 220) throw greeting.code >= 500 ? new LmtpRefusal(greeting) : new LmtpUnavailable(`${relay} greeted with ${greeting.text}`, '4.4.2');
      session.socket.write(`LHLO ${opts.heloName}\r\n`);
      const lhlo = await session.reply();
      if (lhlo.code !== 250) throw lhlo.code >= 500 ? new LmtpRefusal(lhlo) : new LmtpUnavailable(`${relay} refused LHLO: ${lhlo.text}`, '4.4.2');
      for (const line of lhlo.text.split('\n').slice(1)) session.extensions.add(line.slice(4).split(' ')[0]!.toUpperCase());
    } catch (err) {
      session.close();
      if (err instanceof Lost) throw new LmtpUnavailable(err.message, '4.4.2');
      throw err;
    }
    return session;
  }

  private onData(chunk: Buffer): void {
    this.buffered += chunk.toString('latin1');
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl).replace(/\r$/, '');
      this.buffered = this.buffered.slice(nl + 1);
      this.lines.push(line);
      // "250-" goes on, "250 " (or a bare "250") ends the reply.
      if (line.length < 4 || line[3] !== '-') {
        const reply = { code: Number(line.slice(0, 3)) || 0, text: Buffer.from(this.lines.join('\n'), 'latin1').toString('utf8') };
        this.lines = [];
        const waiter = this.waiting.shift();
        if (waiter) waiter.resolve(reply);
        else this.ready.push(reply);
      }
    }
    if (this.buffered.length > 64 * 1024) this.lose(new Lost(`${this.relay}: reply line too long`));
  }

  private lose(err: Error): void {
    if (this.lostWith) return;
    this.lostWith = err;
    this.broken = true;
    this.socket.destroy();
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  /** The next reply, in order. */
  private reply(): Promise<Reply> {
    const ready = this.ready.shift();
    if (ready) return Promise.resolve(ready);
    if (this.lostWith) return Promise.reject(this.lostWith);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private async writeChunk(chunk: Buffer | string): Promise<void> {
    if (this.lostWith) throw this.lostWith;
    if (this.socket.write(chunk)) return;
    await this.drained();
  }

  /** Resolves once the socket's buffer drained; rejects when the connection goes first. */
  private drained(): Promise<void> {
    if (this.lostWith) return Promise.reject(this.lostWith);
    return new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        this.socket.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.socket.off('drain', onDrain);
        reject(this.lostWith ?? new Lost(`${this.relay}: connection closed`));
      };
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  }

  /** Sends the content and, once `beforeEnd` resolved, the end of data; false when `beforeEnd` rejected. */
  private async sendContent(content: Readable | Buffer[], beforeEnd: Promise<void> | undefined): Promise<boolean> {
    const encoder = new DataEncoder();
    try {
      if (Array.isArray(content)) {
        // In memory: every chunk into the socket at once, leaving in one writev.
        if (this.lostWith) throw this.lostWith;
        this.socket.cork();
        for (const chunk of content) this.socket.write(encoder.encode(chunk));
        this.socket.uncork();
        if (this.socket.writableNeedDrain) await this.drained();
      } else for await (const chunk of content as AsyncIterable<Buffer>) await this.writeChunk(encoder.encode(chunk));
    } catch (err) {
      if (err instanceof Lost) throw err;
      // The content could not be read: the transaction cannot be ended cleanly, so the connection goes.
      this.lose(new Lost(`${this.relay}: reading the queued message failed: ${(err as Error).message}`));
      throw err;
    }
    if (beforeEnd) {
      try {
        await beforeEnd;
      } catch {
        // Without the end of data the server delivers nothing: the connection goes.
        this.lose(new Lost(`${this.relay}: transaction abandoned before the end of data`));
        return false;
      }
    }
    await this.writeChunk(encoder.end());
    return true;
  }

  private mailCommand(tx: Transaction): string {
    let cmd = `MAIL FROM:<${tx.sender}>`;
    if (this.extensions.has('SIZE')) cmd += ` SIZE=${tx.size}`;
    if (this.extensions.has('8BITMIME')) cmd += ' BODY=8BITMIME';
    if (this.extensions.has('SMTPUTF8') && /[^\x00-\x7f]/.test(tx.sender + tx.recipients.map((r) => r.address).join(''))) cmd += ' SMTPUTF8';
    if (this.extensions.has('DSN') && tx.dsn?.ret) cmd += ` RET=${tx.dsn.ret}`;
    if (this.extensions.has('DSN') && tx.dsn?.envid) cmd += ` ENVID=${xtext(tx.dsn.envid)}`;
    return cmd + '\r\n';
  }

  private rcptCommand(r: DeliveryRecipient): string {
    let cmd = `RCPT TO:<${r.address}>`;
    if (this.extensions.has('DSN') && r.notify?.length) cmd += ` NOTIFY=${r.notify.join(',')}`;
    if (this.extensions.has('DSN') && r.original && r.original !== r.address) cmd += ` ORCPT=rfc822;${xtext(r.original)}`;
    return cmd + '\r\n';
  }

  /**
   * One transaction. Resolves with an outcome for every recipient: its own reply when one came, else (the
   * connection was lost) a deferral, marked `unacknowledged` once the end of data was sent, as the message may
   * then have been delivered without the reply reaching us. Rejects (with nothing sent that could have been
   * delivered) only when the connection was already gone before any reply of this transaction.
   */
  async transact(tx: Transaction): Promise<RecipientOutcome[]> {
    const relay = this.relay;
    const outcomes = new Map<number, RecipientOutcome>();
    const fromReply = (r: DeliveryRecipient, reply: Reply): RecipientOutcome => {
      const text = reply.text.replace(/\s+/g, ' ').trim();
      const status = reply.code >= 200 && reply.code < 300 ? 'sent' : reply.code >= 500 ? 'bounced' : 'deferred';
      return { index: r.index, status, dsn: statusOf(reply.code, reply.text), text, relay };
    };
    const finish = (): RecipientOutcome[] => tx.recipients.map((r) => outcomes.get(r.index)!);
    // Its failure is looked at before the end of data; until then it must not count as unhandled.
    tx.beforeEnd?.catch(() => undefined);
    this.transactions++;
    let anyReply = false;
    let dataSent = false;
    try {
      // The command group: RSET when the last transaction was left open, MAIL, every RCPT, DATA.
      const pipelining = this.extensions.has('PIPELINING');
      const commands = [...(this.dirty ? ['RSET\r\n'] : []), this.mailCommand(tx), ...tx.recipients.map((r) => this.rcptCommand(r)), 'DATA\r\n'];
      const wasDirty = this.dirty;
      this.dirty = true;
      let replies: Reply[];
      if (pipelining) {
        await this.writeChunk(commands.join(''));
        replies = [];
        for (let i = 0; i < commands.length; i++) {
          replies.push(await this.reply());
          anyReply = true;
        }
      } else {
        replies = [];
        for (const [i, command] of commands.entries()) {
          await this.writeChunk(command);
          const reply = await this.reply();
          anyReply = true;
          replies.push(reply);
          const isMail = i === (wasDirty ? 1 : 0);
          if (isMail && reply.code !== 250) break;
        }
      }
      if (wasDirty) replies.shift();
      const mail = replies[0]!;
      if (mail.code !== 250) {
        for (const r of tx.recipients) outcomes.set(r.index, fromReply(r, mail));
        // A DATA that was sent in the group was refused as well (no transaction is open).
        return finish();
      }
      const accepted: DeliveryRecipient[] = [];
      tx.recipients.forEach((r, i) => {
        const reply = replies[1 + i];
        if (!reply) return; // not sent (a server without PIPELINING, after a failed MAIL)
        if (reply.code === 250 || reply.code === 251) accepted.push(r);
        else outcomes.set(r.index, fromReply(r, reply));
      });
      const data = replies[1 + tx.recipients.length];
      if (!data || data.code !== 354) {
        // Every RCPT refused (DATA then answers 503/554) or DATA itself refused: the accepted ones get its reply.
        for (const r of accepted) outcomes.set(r.index, fromReply(r, data ?? { code: 451, text: '451 4.5.0 no DATA reply' }));
        return finish();
      }
      if (accepted.length === 0) {
        // A server that said 354 without a recipient: end the empty transaction.
        await this.writeChunk('.\r\n');
        await this.reply();
        return finish();
      }
      if (!(await this.sendContent(tx.content(), tx.beforeEnd))) {
        for (const r of accepted) outcomes.set(r.index, { index: r.index, status: 'deferred', dsn: '4.3.0', text: 'the queue file could not be made durable', relay });
        return finish();
      }
      dataSent = true;
      // LMTP: one reply per accepted recipient, in RCPT order (RFC 2033 4.2).
      for (const r of accepted) outcomes.set(r.index, fromReply(r, await this.reply()));
      this.dirty = false;
      return finish();
    } catch (err) {
      if (!(err instanceof Lost)) throw err;
      this.broken = true;
      if (!anyReply && !dataSent) throw new LmtpUnavailable(err.message, '4.4.2');
      for (const r of tx.recipients) {
        if (!outcomes.has(r.index)) outcomes.set(r.index, { index: r.index, status: 'deferred', dsn: '4.4.2', text: err.message, relay, unacknowledged: dataSent });
      }
      return finish();
    }
  }

  /** QUIT and close (or just close a broken connection). */
  close(): void {
    if (this.broken) {
      this.socket.destroy();
      return;
    }
    this.broken = true;
    this.socket.end('QUIT\r\n');
    this.socket.setTimeout(5_000, () => this.socket.destroy());
  }
}

/**
 * Postfix's connection cache for one LMTP destination: up to `size` idle connections kept for `idleMs`, each
 * carrying transaction after transaction. A cached connection that the server closed meanwhile is noticed by its
 * close event; one found dead at the start of a transaction (before any reply) is replaced by a new connection, so
 * a stale cached connection never costs a delivery attempt.
 */
export class LmtpPool {
  private readonly idle: { session: LmtpSession; timer: NodeJS.Timeout }[] = [];
  private closed = false;
  /** Connections opened (tests and logs). */
  opened = 0;

  constructor(
    private readonly opts: LmtpSessionOptions,
    private readonly size: number,
    private readonly idleMs = 5_000,
  ) {}

  /** Delivers one transaction on a cached or new connection; resolves with an outcome for every recipient. */
  async deliver(tx: Transaction): Promise<RecipientOutcome[]> {
    for (;;) {
      const cached = this.takeIdle();
      let session: LmtpSession;
      try {
        session = cached ?? (await this.open());
      } catch (err) {
        if (err instanceof LmtpRefusal) return tx.recipients.map((r) => ({ index: r.index, status: 'bounced', dsn: statusOf(err.reply.code, err.reply.text), text: err.reply.text.replace(/\s+/g, ' ').trim(), relay: this.opts.endpoint.label }));
        throw err;
      }
      try {
        const outcomes = await session.transact(tx);
        this.release(session);
        return outcomes;
      } catch (err) {
        session.close();
        // A cached connection that died while idle: nothing of this transaction reached the server, try a new one.
        if (cached && err instanceof LmtpUnavailable) continue;
        throw err;
      }
    }
  }

  /** Idle connections now. */
  get idleCount(): number {
    return this.idle.length;
  }

  close(): void {
    this.closed = true;
    for (const { session, timer } of this.idle.splice(0)) {
      clearTimeout(timer);
      session.close();
    }
  }

  private async open(): Promise<LmtpSession> {
    const session = await LmtpSession.open(this.opts);
    this.opened++;
    return session;
  }

  private takeIdle(): LmtpSession | undefined {
    for (let entry = this.idle.pop(); entry; entry = this.idle.pop()) {
      clearTimeout(entry.timer);
      if (!entry.session.broken) return entry.session;
    }
    return undefined;
  }

  private release(session: LmtpSession): void {
    if (this.closed || session.broken || this.idle.length >= this.size) return session.close();
    const entry = {
      session,
      timer: setTimeout(() => {
        const i = this.idle.indexOf(entry);
        if (i >= 0) this.idle.splice(i, 1);
        session.close();
      }, this.idleMs),
    };
    entry.timer.unref();
    this.idle.push(entry);
  }
}
