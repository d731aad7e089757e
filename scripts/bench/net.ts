// Raw-socket load clients for the benchmarks, independent of Roost's and Dovecot's code: a line reader over TCP or a
// unix socket with a FIFO of expected replies (pipelining, RFC 2920 / RFC 2449 PIPELINING) and reply collectors.
import { createConnection, type Socket } from 'node:net';

/** Consumes reply lines in order; returns a value once its reply is complete, else undefined. */
export interface ReplyCollector<T> {
  onLine(line: Buffer): T | undefined;
}

interface Pending {
  collector: ReplyCollector<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

const LF = 0x0a;

export class LineSocket {
  private rest: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private closedError: Error | undefined;
  /** When set, lines not claimed by a collector go here (for protocols whose replies carry ids, not order). */
  onUnclaimedLine: ((line: Buffer) => void) | undefined;
  /** Called once when the connection fails or closes. */
  onClosed: ((err: Error) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static connect(target: { port: number } | { path: string }, timeoutMs = 20_000): Promise<LineSocket> {
    return new Promise((resolve, reject) => {
      const socket =
        'path' in target ? createConnection({ path: target.path }) : createConnection({ port: target.port, host: '127.0.0.1' });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new LineSocket(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private onData(chunk: Buffer): void {
    const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const newline = data.indexOf(LF, start);
      if (newline < 0) break;
      const end = newline > start && data[newline - 1] === 0x0d ? newline - 1 : newline;
      this.deliver(data.subarray(start, end));
      start = newline + 1;
    }
    this.rest = start < data.length ? Buffer.from(data.subarray(start)) : Buffer.alloc(0);
  }

  private deliver(line: Buffer): void {
    const head = this.pending[0];
    if (!head) {
      this.onUnclaimedLine?.(line);
      return;
    }
    let result: unknown;
    try {
      result = head.collector.onLine(line);
    } catch (err) {
      this.pending.shift();
      head.reject(err as Error);
      return;
    }
    if (result !== undefined) {
      this.pending.shift();
      head.resolve(result);
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const p of this.pending.splice(0)) p.reject(err);
    this.onClosed?.(err);
  }

  /** Expects the next reply (after those already expected) without sending anything. */
  expect<T>(collector: ReplyCollector<T>): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ collector, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends a command and expects its reply; several calls without awaiting pipeline them. */
  send<T>(data: string | Buffer, collector: ReplyCollector<T>): Promise<T> {
    const reply = this.expect(collector);
    this.write(data);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }

  /** Ends the connection and waits for the peer to close it (or the ceiling). */
  async end(timeoutMs = 20_000): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }
}

export class ProtocolError extends Error {}

/** An SMTP/LMTP reply (RFC 5321 section 4.2): lines "NNN-" then "NNN "; resolves to the code and text. */
export function smtpReply(): ReplyCollector<{ code: number; text: string }> {
  const lines: string[] = [];
  return {
    onLine(line) {
      const s = line.toString('latin1');
      lines.push(s);
      if (s.length >= 4 && s[3] === '-') return undefined;
      return { code: Number(s.slice(0, 3)), text: lines.join('\n') };
    },
  };
}

/** A POP3 single-line status reply (RFC 1939 section 3). */
export function pop3Status(): ReplyCollector<{ ok: boolean; text: string }> {
  return {
    onLine(line) {
      const s = line.toString('latin1');
      return { ok: s.startsWith('+OK'), text: s };
    },
  };
}

/** A POP3 multi-line reply: status, then lines up to a lone "."; resolves to the byte count of the body (CRLF lines). */
export function pop3Multiline(): ReplyCollector<{ ok: boolean; bytes: number; status: string }> {
  let status: string | undefined;
  let bytes = 0;
  return {
    onLine(line) {
      if (status === undefined) {
        status = line.toString('latin1');
        if (!status.startsWith('+OK')) return { ok: false, bytes: 0, status };
        return undefined;
      }
      if (line.length === 1 && line[0] === 0x2e) return { ok: true, bytes, status };
      bytes += line.length + 2;
      return undefined;
    },
  };
}

/** An IMAP reply up to the tagged status line (RFC 9051 section 7.1); untagged lines are collected. Literals are not expected. */
export function imapTagged(tag: string): ReplyCollector<{ status: string; lines: string[] }> {
  const prefix = `${tag} `;
  const lines: string[] = [];
  return {
    onLine(line) {
      const s = line.toString('latin1');
      if (s.startsWith(prefix)) {
        const status = s.slice(prefix.length).split(' ', 1)[0]!;
        return { status, lines };
      }
      lines.push(s);
      return undefined;
    },
  };
}

/** The first line, whatever it is (greetings). */
export function anyLine(): ReplyCollector<string> {
  return { onLine: (line) => line.toString('latin1') };
}
