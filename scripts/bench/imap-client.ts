// A raw-socket IMAP load client for the benchmarks, neither Roost's nor Dovecot's code: reads responses with literals
// (RFC 9051 section 4.3, {N} and {N+}) without buffering them, pipelines tagged commands, counts bytes on the wire,
// and can turn on COMPRESS=DEFLATE (RFC 4978 section 3).
import { createConnection, type Socket } from 'node:net';
import zlib from 'node:zlib';

/** What a tagged command produced. */
export interface ImapResult {
  tag: string;
  /** OK, NO or BAD */
  status: string;
  /** the tagged line */
  text: string;
  /** untagged responses received while this command was the oldest in flight */
  untagged: number;
  /** their first lines (literal contents left out), when the command asked to keep them */
  lines: string[];
  /** bytes received for this command, literals included (after decompression when COMPRESS is on) */
  bytes: number;
  /** bytes read from the socket for this command: compressed when COMPRESS is on, else the same as `bytes` */
  wireBytes: number;
  /** literal bytes received for this command */
  literalBytes: number;
}

interface Pending {
  tag: string;
  keep: boolean;
  result: ImapResult;
  resolve: (r: ImapResult) => void;
  reject: (err: Error) => void;
}

const LF = 0x0a;
const LITERAL = /\{(\d+)\+?\}$/;

export class ImapClient {
  private pieces: Buffer[] = [];
  private literalLeft = 0;
  /** the response being read: its first line, then whether it is kept */
  private responseHead: string | undefined;
  private readonly pending: Pending[] = [];
  private continuationWaiters: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  private greetingWaiter: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined;
  private greeting: string | undefined;
  private closedError: Error | undefined;
  private nextTag = 1;
  /** bytes received over the whole connection (after decompression when COMPRESS is on) */
  received = 0;
  /** bytes read from the socket over the whole connection */
  wireReceived = 0;
  /** COMPRESS=DEFLATE streams, once the server accepted COMPRESS */
  private inflate: zlib.InflateRaw | undefined;
  private deflate: zlib.DeflateRaw | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onWire(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static connect(port: number, timeoutMs = 30_000): Promise<ImapClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new ImapClient(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Connects, reads the greeting and logs in; throws unless both are OK. */
  static async login(port: number, user: string, password: string): Promise<ImapClient> {
    const client = await ImapClient.connect(port);
    try {
      const greeting = await client.readGreeting();
      if (!greeting.startsWith('* OK')) throw new Error(`greeting: ${greeting}`);
      const login = await client.command(`LOGIN ${user} ${password}`);
      if (login.status !== 'OK') throw new Error(`LOGIN ${user}: ${login.text}`);
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  readGreeting(): Promise<string> {
    if (this.greeting !== undefined) return Promise.resolve(this.greeting);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.greetingWaiter = { resolve, reject };
    });
  }

  private onWire(chunk: Buffer): void {
    this.wireReceived += chunk.length;
    const head = this.pending[0];
    if (head) head.result.wireBytes += chunk.length;
    if (this.inflate) this.inflate.write(chunk);
    else this.onData(chunk);
  }

  /**
   * COMPRESS DEFLATE (RFC 4978 section 3): after the tagged OK, both directions are raw DEFLATE. The server sends
   * nothing after that OK until the next command, and the OK is handled before the socket's next chunk, so every
   * later chunk goes through the inflater. Each command is flushed on its own (Z_SYNC_FLUSH), as clients do.
   */
  async compress(): Promise<void> {
    const result = await this.command('COMPRESS DEFLATE');
    if (result.status !== 'OK') throw new Error(`COMPRESS DEFLATE: ${result.text}`);
    const inflate = zlib.createInflateRaw();
    inflate.on('data', (chunk: Buffer) => this.onData(chunk));
    inflate.on('error', (err) => this.fail(err));
    const deflate = zlib.createDeflateRaw();
    deflate.on('data', (chunk: Buffer) => this.socket.write(chunk));
    deflate.on('error', (err) => this.fail(err));
    this.inflate = inflate;
    this.deflate = deflate;
  }

  private send(text: string): void {
    if (!this.deflate) {
      this.socket.write(text);
      return;
    }
    this.deflate.write(text);
    this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.length;
    const head = this.pending[0];
    if (head) head.result.bytes += chunk.length;
    let start = 0;
    while (start < chunk.length) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, chunk.length - start);
        this.literalLeft -= take;
        if (head) head.result.literalBytes += take;
        start += take;
        continue;
      }
      const newline = chunk.indexOf(LF, start);
      if (newline < 0) {
        this.pieces.push(chunk.subarray(start));
        break;
      }
      this.pieces.push(chunk.subarray(start, newline + 1));
      start = newline + 1;
      const lineBuf = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
      this.pieces = [];
      const end = lineBuf.length >= 2 && lineBuf[lineBuf.length - 2] === 0x0d ? lineBuf.length - 2 : lineBuf.length - 1;
      // Only the start of a line matters to the client (and the literal marker at its end): keep long lines cheap.
      const line = lineBuf.length > 4096 ? `${lineBuf.toString('latin1', 0, 2048)}${lineBuf.toString('latin1', end - 32, end)}` : lineBuf.toString('latin1', 0, end);
      const literal = LITERAL.exec(line.slice(-24));
      if (this.responseHead === undefined) this.responseHead = line;
      if (literal) {
        this.literalLeft = Number(literal[1]);
        continue;
      }
      const response = this.responseHead;
      this.responseHead = undefined;
      this.onResponse(response);
    }
  }

  private onResponse(line: string): void {
    if (this.greeting === undefined) {
      this.greeting = line;
      this.greetingWaiter?.resolve(line);
      this.greetingWaiter = undefined;
      return;
    }
    if (line.startsWith('+')) {
      const waiter = this.continuationWaiters.shift();
      waiter?.resolve(line);
      return;
    }
    const head = this.pending[0];
    if (line.startsWith('*')) {
      if (head) {
        head.result.untagged += 1;
        if (head.keep) head.result.lines.push(line);
      }
      return;
    }
    const space = line.indexOf(' ');
    const tag = line.slice(0, space);
    const index = this.pending.findIndex((p) => p.tag === tag);
    if (index < 0) return;
    const [done] = this.pending.splice(index, 1);
    done!.result.status = line.slice(space + 1).split(' ', 1)[0]!;
    done!.result.text = line;
    done!.resolve(done!.result);
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const p of this.pending.splice(0)) p.reject(err);
    for (const w of this.continuationWaiters.splice(0)) w.reject(err);
    this.greetingWaiter?.reject(err);
  }

  /** Sends a tagged command; several calls without awaiting pipeline them (RFC 9051 section 5.5). */
  command(text: string, options: { keepLines?: boolean } = {}): Promise<ImapResult> {
    if (this.closedError) return Promise.reject(this.closedError);
    const tag = `b${this.nextTag++}`;
    const promise = new Promise<ImapResult>((resolve, reject) => {
      this.pending.push({
        tag,
        keep: options.keepLines ?? false,
        result: { tag, status: '', text: '', untagged: 0, lines: [], bytes: 0, wireBytes: 0, literalBytes: 0 },
        resolve,
        reject,
      });
    });
    this.send(`${tag} ${text}\r\n`);
    return promise;
  }

  /** Sends a tagged command that answers with a continuation first (IDLE): resolves on the "+" line. */
  async startContinuation(text: string): Promise<{ continuation: string; done: Promise<ImapResult> }> {
    const waiting = new Promise<string>((resolve, reject) => this.continuationWaiters.push({ resolve, reject }));
    const done = this.command(text);
    done.catch(() => undefined);
    const continuation = await Promise.race([waiting, done.then((r) => Promise.reject(new Error(`${text}: ${r.text}`)))]);
    return { continuation, done };
  }

  write(text: string): void {
    this.send(text);
  }

  /** LOGOUT, then close (never waits long). */
  async logout(): Promise<void> {
    const timer = setTimeout(() => this.close(), 5_000);
    try {
      await this.command('LOGOUT');
    } catch {
      // closed meanwhile
    } finally {
      clearTimeout(timer);
      this.close();
    }
  }

  close(): void {
    this.socket.destroy();
    this.inflate?.destroy();
    this.deflate?.destroy();
  }
}

/** Throws unless the command ended OK. */
export function ok(result: ImapResult, what: string): ImapResult {
  if (result.status !== 'OK') throw new Error(`${what}: ${result.text}`);
  return result;
}

/** The message count from the untagged "* N EXISTS" of a SELECT kept with keepLines. */
export function existsOf(result: ImapResult): number {
  for (const line of result.lines) {
    const m = /^\* (\d+) EXISTS/i.exec(line);
    if (m) return Number(m[1]);
  }
  return -1;
}

/** Rejects when the promise has not settled within `ms` (every benchmark command is bounded in time). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
