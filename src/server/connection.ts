// One client connection as every protocol sees it: bytes in and out, the secured notion of
// DECISIONS.md (TLS, loopback or login_trusted_networks), and STARTTLS upgrade of the live socket.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { normalizeIp } from '../lib/networks.js';
import type { Logger } from '../lib/logger.js';

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
  private onIdle: (() => void) | undefined;
  /** TLS server name the client asked for (SNI), when over TLS. */
  serverName: string | undefined;

  private readonly transport: TransportInfo | undefined;

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

  /** The current socket, for protocol libraries that take a socket (closing it closes the connection). */
  get rawSocket(): Socket {
    return this.socket;
  }

  get tls(): boolean {
    return this.transport ? this.transport.encrypted : this.socket instanceof tls.TLSSocket;
  }

  /** STARTTLS/STLS is possible: a plain TCP connection (not a WebSocket, not already TLS). */
  get canStartTls(): boolean {
    return !this.transport && !(this.socket instanceof tls.TLSSocket);
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
    this.emit('data', chunk);
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
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.emit('close');
  }

  write(data: string | Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(data);
  }

  /** Waits until the socket's write buffer has drained (for streaming large responses). */
  drain(): Promise<void> {
    if (this.closed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.once('close', done);
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
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.idleMs > 0 && !this.closed) {
      this.idleTimer = setTimeout(() => this.onIdle?.(), this.idleMs);
      this.idleTimer.unref();
    }
  }
}
