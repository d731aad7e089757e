// A raw line client for protocol tests: connects over TCP, TLS or a unix socket, reads CRLF lines
// with a ceiling, sends commands, and upgrades a live connection with STARTTLS/STLS.
import net from 'node:net';
import tls from 'node:tls';

export interface ConnectOptions {
  host?: string;
  port?: number;
  path?: string;
  tls?: boolean;
  servername?: string;
}

export class LineClient {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private closed = false;
  /** The certificate of the server once TLS is up. */
  peerCertificate: tls.PeerCertificate | undefined;

  private constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static connect(opts: ConnectOptions): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      if (opts.tls) {
        const s = tls.connect({ host: opts.host ?? '127.0.0.1', port: opts.port, rejectUnauthorized: false, servername: opts.servername ?? '' });
        s.once('secureConnect', () => {
          const c = new LineClient(s);
          c.peerCertificate = s.getPeerCertificate();
          resolve(c);
        });
        s.once('error', reject);
      } else {
        const s = opts.path ? net.connect(opts.path) : net.connect(opts.port!, opts.host ?? '127.0.0.1');
        s.once('connect', () => resolve(new LineClient(s)));
        s.once('error', reject);
      }
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves with the next line (without CRLF), or null once the connection is closed. */
  async readLine(timeoutMs = 20_000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buffer.indexOf('\n');
      if (i >= 0) {
        const line = this.buffer.subarray(0, i).toString('latin1').replace(/\r$/, '');
        this.buffer = this.buffer.subarray(i + 1);
        return line;
      }
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a line (have: ${JSON.stringify(this.buffer.toString('latin1').slice(0, 200))})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Reads exactly n bytes (for literals). */
  async readBytes(n: number, timeoutMs = 20_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.length < n) {
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for bytes');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /** Reads lines until one matches pred; returns all lines read, the matching one last. */
  async readUntil(pred: (line: string) => boolean, timeoutMs = 20_000): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      if (line === null) throw new Error(`connection closed; got: ${lines.join(' | ')}`);
      lines.push(line);
      if (pred(line)) return lines;
    }
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  sendLine(line: string): void {
    this.socket.write(line + '\r\n');
  }

  /** Upgrades the live connection to TLS (after the server said go ahead). */
  startTls(servername = ''): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    return new Promise((resolve, reject) => {
      const s = tls.connect({ socket: plain, rejectUnauthorized: false, servername });
      s.once('secureConnect', () => {
        this.socket = s;
        this.peerCertificate = s.getPeerCertificate();
        this.attach(s);
        resolve();
      });
      s.once('error', reject);
    });
  }

  /** Waits until the server closes the connection. */
  async waitClosed(timeoutMs = 20_000): Promise<void> {
    while (!this.closed) {
      const line = await this.readLine(timeoutMs);
      if (line === null) return;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
