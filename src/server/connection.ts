// One client connection as every protocol sees it: bytes in and out, the secured notion of
// DECISIONS.md (TLS, loopback or login_trusted_networks), and STARTTLS upgrade of the live socket.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { normalizeIp } from '../lib/networks.js';
import type { Logger } from '../lib/logger.js';
import type { ClientInfo } from '../auth/service.js';

/** Output held by a batch or a tick leaves once this much has gathered. */
const OUTPUT_BATCH_BYTES = 64 * 1024;

export interface ConnectionInfo {
  service: string;
  listener: string;
  remoteIp: string;
  remotePort: number;
  localIp: string;
  localPort: number;
}

export type SecuredCheck = (remoteIp: string, tls: boolean) => boolean;

/** For transports that are not a TCP socket (IMAP over WebSocket): who the peer is and whether it is encrypted. */
export interface TransportInfo {
  remoteIp: string;
  remotePort: number;
  localIp: string;
  localPort: number;
  encrypted: boolean;
}

/**
 * Events: 'data' (Buffer), 'close', 'error'. A session writes with write(), reads from 'data',
 * and calls startTls() after it has sent its "go ahead" line.
 */
export class Connection extends EventEmitter {
  readonly id = randomBytes(6).toString('base64url');
  readonly info: ConnectionInfo;
  private socket: Socket;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private idleMs = 0;
  /** The duration idleTimer was started with. */
  private idleTimerMs = 0;
  /** When input last came (Date.now()); the idle timer, when it fires early, waits for the rest of the time. */
  private lastInputAt = 0;
  private onIdle: (() => void) | undefined;
  /** TLS server name the client asked for (SNI), when over TLS. */
  serverName: string | undefined;

  private readonly transport: TransportInfo | undefined;
  /** Raw DEFLATE in both directions once the protocol turned compression on (IMAP COMPRESS, RFC 4978). */
  private deflate: zlib.Deflate | undefined;
  private inflate: zlib.Inflate | undefined;
  private flushPending = false;
  /** Output for the compressor not yet handed to it: many small responses go in as one write. */
  private deflatePending: Buffer[] = [];
  private deflatePendingBytes = 0;
  /** Something was compressed since the last sync flush. */
  private deflateUnflushed = false;
  /** The socket whose writes are held (corked) until the end of the tick or of the held batch: buffers were written. */
  private corkedSocket: Socket | undefined;
  /**
   * Text gathered until the end of the tick or of the held batch, sent as one string (one UTF-8 conversion and one
   * write instead of one per line). Text alone does not cork the socket: one direct write is cheaper than a corked one.
   */
  private pendingText: string[] = [];
  private pendingTextLength = 0;
  /** A flush at the end of this tick is scheduled. */
  private tickFlushScheduled = false;
  /** The protocol is answering a batch of commands: output waits for releaseOutput() (see holdOutput). */
  private held = false;

  constructor(
    socket: Socket | Duplex,
    service: string,
    listener: string,
    private readonly securedCheck: SecuredCheck,
    readonly log: Logger,
    private readonly tlsOptions: () => tls.TLSSocketOptions,
    transport?: TransportInfo,
  ) {
    super();
    this.socket = socket as Socket;
    this.transport = transport;
    const s = socket as Partial<Socket>;
    this.info = {
      service,
      listener,
      remoteIp: normalizeIp(transport?.remoteIp ?? s.remoteAddress ?? 'unix'),
      remotePort: transport?.remotePort ?? s.remotePort ?? 0,
      localIp: normalizeIp(transport?.localIp ?? s.localAddress ?? 'unix'),
      localPort: transport?.localPort ?? s.localPort ?? 0,
    };
    this.attach(this.socket);
  }

  /** Who is asking, as the auth service wants it for a login on this connection. */
  clientInfo(): ClientInfo {
    return {
      service: this.info.service,
      remoteIp: this.info.remoteIp,
      remotePort: this.info.remotePort,
      localIp: this.info.localIp,
      localPort: this.info.localPort,
      secured: this.secured,
      sessionId: this.id,
    };
  }

  /** The current socket, for protocol libraries that take a socket (closing it closes the connection). */
  get rawSocket(): Socket {
    return this.socket;
  }

  get tls(): boolean {
    return this.transport ? this.transport.encrypted : this.socket instanceof tls.TLSSocket;
  }

  /** STARTTLS/STLS is possible: a plain TCP connection (not a WebSocket, not already TLS). */
  get canStartTls(): boolean {
    return !this.transport && !(this.socket instanceof tls.TLSSocket) && !this.deflate;
  }

  /** Over TLS, from loopback (or a unix socket), or from login_trusted_networks. */
  get secured(): boolean {
    if (this.info.remoteIp === 'unix') return true;
    return this.securedCheck(this.info.remoteIp, this.tls);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private readonly onData = (chunk: Buffer) => {
    this.touch();
    if (this.inflate) this.inflate.write(chunk);
    else this.emit('data', chunk);
  };
  private readonly onClose = () => this.finish();
  private readonly onError = (err: Error) => {
    this.log.debug({ err: err.message }, 'connection error');
    this.finish();
    this.socket.destroy();
  };

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('close', this.onClose);
    socket.off('error', this.onError);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.deflate?.destroy();
    this.inflate?.destroy();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.emit('close');
  }

  /**
   * Sends data; `onWritten` (buffers only) runs once the socket is done with it, when it may be reused. It never runs
   * on a closed connection or under COMPRESS (the compressor keeps the buffer a while): the buffer is then left to the GC.
   */
  write(data: string | Buffer, onWritten?: () => void): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (this.deflate) {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      this.deflatePending.push(buf);
      this.deflatePendingBytes += buf.length;
      this.deflateUnflushed = true;
      if (this.deflatePendingBytes >= OUTPUT_BATCH_BYTES) this.feedDeflate();
      if (!this.held) this.scheduleFlush();
      return !this.deflate.writableNeedDrain;
    }
    this.scheduleTickFlush();
    if (typeof data === 'string') {
      this.pendingText.push(data);
      this.pendingTextLength += data.length;
      if (this.pendingTextLength >= OUTPUT_BATCH_BYTES) this.uncorkNow();
      return !this.socket.writableNeedDrain;
    }
    // Corked before the text ahead of it goes in: text and buffers leave together in one writev.
    this.corkSocket();
    this.flushText();
    const more = onWritten ? this.socket.write(data, () => onWritten()) : this.socket.write(data);
    if (this.socket.writableLength >= OUTPUT_BATCH_BYTES) this.uncorkNow();
    return more;
  }

  /** Hands the text gathered while corked to the socket, as one string. */
  private flushText(): void {
    if (this.pendingText.length === 0) return;
    const text = this.pendingText.length === 1 ? this.pendingText[0]! : this.pendingText.join('');
    this.pendingText = [];
    this.pendingTextLength = 0;
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /**
   * Holds output until releaseOutput(), as Dovecot corks its output stream while it works through the commands
   * a client pipelined: a FETCH of 10,000 envelopes leaves in large writes (and, compressed, as one deflate
   * stream with a single sync flush) instead of one syscall or flush per response. Batches of OUTPUT_BATCH_BYTES
   * still go out on their way, and drain() pushes everything held, so memory stays bounded.
   */
  holdOutput(): void {
    this.held = true;
  }

  /** Sends what holdOutput() held; from now on writes leave at the end of each tick. */
  releaseOutput(): void {
    if (!this.held) return;
    this.held = false;
    if (this.deflate) this.flushDeflate();
    this.uncorkNow();
  }

  /** Corks the socket; the writes leave together at the end of the tick, or when a held batch is released. */
  private corkSocket(): void {
    if (this.corkedSocket) return;
    const socket = this.socket;
    this.corkedSocket = socket;
    socket.cork();
  }

  /** Output written now leaves at the end of the tick (unless held). */
  private scheduleTickFlush(): void {
    if (this.tickFlushScheduled) return;
    this.tickFlushScheduled = true;
    process.nextTick(this.uncorkAfterTick);
  }

  private readonly uncorkAfterTick = (): void => {
    this.tickFlushScheduled = false;
    if (!this.held) this.uncorkNow();
  };

  private uncorkNow(): void {
    this.flushText();
    const socket = this.corkedSocket;
    if (!socket) return;
    this.corkedSocket = undefined;
    socket.uncork();
  }

  /** Hands the pending output to the compressor, which emits whole blocks as they fill. */
  private feedDeflate(): void {
    const deflate = this.deflate;
    if (!deflate || this.deflatePendingBytes === 0) return;
    const data = this.deflatePending.length === 1 ? this.deflatePending[0]! : Buffer.concat(this.deflatePending, this.deflatePendingBytes);
    this.deflatePending = [];
    this.deflatePendingBytes = 0;
    if (!deflate.destroyed && !deflate.writableEnded) deflate.write(data);
  }

  /** Everything written so far reaches the client whole: one Z_SYNC_FLUSH (RFC 4978 section 4). */
  private flushDeflate(): void {
    if (!this.deflateUnflushed) return;
    this.deflateUnflushed = false;
    this.feedDeflate();
    const deflate = this.deflate;
    if (deflate && !deflate.destroyed && !deflate.writableEnded) deflate.flush(zlib.constants.Z_SYNC_FLUSH);
  }

  /** Waits until the write buffers (the compressor's too) have drained (for streaming large responses). */
  async drain(): Promise<void> {
    this.feedDeflate();
    if (this.deflate?.writableNeedDrain) await this.waitDrain(this.deflate);
    // Held writes past the high-water mark go out now; below it they wait for the end of the tick or batch.
    if (this.socket.writableNeedDrain) {
      this.uncorkNow();
      await this.waitDrain(this.socket);
    }
  }

  private waitDrain(stream: Duplex): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        stream.off('drain', done);
        this.off('close', done);
        resolve();
      };
      stream.once('drain', done);
      this.once('close', done);
    });
  }

  /** Whether compression is on (a second COMPRESS is refused). */
  get compressed(): boolean {
    return this.deflate !== undefined;
  }

  /**
   * Turns on raw DEFLATE (RFC 1951) both ways from the next byte on (RFC 4978 section 3): what the client sends
   * is inflated before the 'data' event; what the server writes is deflated and flushed (Z_SYNC_FLUSH) after each
   * batch of writes, so every response reaches the client whole. `pending` holds bytes that already arrived
   * after the command and belong to the compressed stream.
   */
  startCompression(pending?: Buffer): void {
    if (this.deflate) throw new Error('compression is already active');
    // The answer to COMPRESS, still gathered, goes out uncompressed ahead of the compressed stream.
    this.flushText();
    const deflate = zlib.createDeflateRaw();
    const inflate = zlib.createInflateRaw();
    deflate.on('data', (chunk: Buffer) => {
      if (!this.socket.destroyed) this.socket.write(chunk);
    });
    inflate.on('data', (chunk: Buffer) => this.emit('data', chunk));
    const fail = (err: Error) => {
      this.log.info({ err: err.message }, 'compressed stream failed');
      this.destroy();
    };
    deflate.on('error', fail);
    inflate.on('error', fail);
    this.deflate = deflate;
    this.inflate = inflate;
    if (pending?.length) inflate.write(pending);
  }

  /** One sync flush for all writes made in the same turn of the event loop (unless a batch is held). */
  private scheduleFlush(): void {
    if (this.flushPending) return;
    this.flushPending = true;
    process.nextTick(() => {
      this.flushPending = false;
      if (!this.held) this.flushDeflate();
    });
  }

  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }

  /** Wraps the live socket in TLS (server side). Resolves once the handshake is complete. */
  startTls(): Promise<void> {
    if (!this.canStartTls) return Promise.reject(new Error('TLS cannot be started on this connection'));
    const plain = this.socket;
    this.uncorkNow();
    this.detach(plain);
    const secure = new tls.TLSSocket(plain, this.tlsOptions());
    this.socket = secure;
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        secure.off('secure', ok);
        this.log.info({ err: err.message }, 'TLS handshake failed');
        this.finish();
        secure.destroy();
        plain.destroy();
        reject(err);
      };
      const ok = () => {
        secure.off('error', fail);
        this.serverName = (secure as unknown as { servername?: string }).servername || undefined;
        this.attach(secure);
        resolve();
      };
      secure.once('secure', ok);
      secure.once('error', fail);
    });
  }

  /** Closes the connection after pending writes are flushed. */
  end(data?: string | Buffer): void {
    if (this.socket.destroyed) return this.finish();
    const deflate = this.deflate;
    if (deflate && !deflate.writableEnded) {
      this.feedDeflate();
      // The compressed stream ends with its final block, then the socket.
      deflate.once('end', () => this.end());
      if (data !== undefined) deflate.end(data);
      else deflate.end();
      return;
    }
    this.flushText();
    if (data !== undefined) this.socket.end(data);
    else this.socket.end();
    // A peer that never reads must not keep the connection half-open forever.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.finish();
  }

  /** Calls onIdle when nothing has been received for ms milliseconds (0 disables). */
  setIdleTimeout(ms: number, onIdle: () => void): void {
    this.idleMs = ms;
    this.onIdle = onIdle;
    this.touch();
  }

  private touch(): void {
    this.lastInputAt = Date.now();
    if (this.idleMs <= 0 || this.closed) {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    } else if (!this.idleTimer || this.idleTimerMs !== this.idleMs) {
      // Input on a busy connection only notes the time: the running timer checks it when it fires.
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimerMs = this.idleMs;
      this.armIdleTimer(this.idleMs);
    }
  }

  private armIdleTimer(ms: number): void {
    this.idleTimer = setTimeout(() => {
      const left = this.lastInputAt + this.idleTimerMs - Date.now();
      if (left > 0) return this.armIdleTimer(left);
      this.idleTimer = undefined;
      this.onIdle?.();
    }, ms);
    this.idleTimer.unref();
  }
}
