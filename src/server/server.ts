// Runs services: binds their listeners, enforces connection limits per service and per IP,
// wraps implicit-TLS sockets, tracks sessions for graceful shutdown, and reloads TLS on demand.
import net from 'node:net';
import tls from 'node:tls';
import { chmodSync, existsSync, mkdirSync, unlinkSync, lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { Connection, type SecuredCheck, type TransportInfo } from './connection.js';
import type { ServiceDefinition, ListenerSpec, Session } from './service.js';
import type { TlsContexts } from '../tls/contexts.js';
import { getLogger } from '../lib/logger.js';

const SOCKET_BUFFER_BYTES = 256 * 1024;

const log = getLogger({ component: 'server' });

export interface ServerLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
}

export interface BoundListener {
  service: string;
  name: string;
  kind: ListenerSpec['kind'];
  address?: string;
  port?: number;
  path?: string;
}

interface Running {
  service: ServiceDefinition;
  spec: ListenerSpec;
  server: net.Server;
}

export class Server {
  private readonly running: Running[] = [];
  private readonly sessions = new Map<Connection, Session>();
  private readonly perService = new Map<string, number>();
  private readonly perIp = new Map<string, number>();
  readonly bound: BoundListener[] = [];
  private stopping = false;
  /** Resolves the shutdown wait once the last session is gone. */
  private onEmpty: (() => void) | undefined;

  constructor(
    private readonly addresses: string[],
    public limits: ServerLimits,
    private readonly tlsContexts: TlsContexts,
    private readonly securedCheck: SecuredCheck,
  ) {}

  get connectionCount(): number {
    return this.sessions.size;
  }

  async start(services: ServiceDefinition[]): Promise<void> {
    for (const service of services) {
      for (const spec of service.listeners) {
        if (spec.kind === 'unix') {
          if (!spec.path) continue;
          await this.listen(service, spec, { path: spec.path });
        } else {
          if (spec.port === 0 || spec.port === undefined) continue; // 0 disables, as Dovecot's port = 0
          for (const address of this.addresses) {
            const host = address === '*' ? '0.0.0.0' : address;
            await this.listen(service, spec, { host, port: spec.port === 'auto' ? 0 : spec.port });
          }
        }
      }
    }
  }

  private listen(service: ServiceDefinition, spec: ListenerSpec, where: { host?: string; port?: number; path?: string }): Promise<void> {
    // A 256 KiB buffer per direction (Node's default is 16 KiB): a FETCH of 10,000 headers waits for the socket
    // every 256 KiB rather than every 16 KiB, in fewer and larger writes.
    const server = net.createServer({ pauseOnConnect: false, noDelay: true, highWaterMark: SOCKET_BUFFER_BYTES }, (socket) => this.accept(service, spec, socket));
    server.on('error', (err) => log.error({ err: err.message, listener: spec.name }, 'listener error'));
    if (where.path) {
      mkdirSync(dirname(where.path), { recursive: true });
      // A socket left by a previous run is removed; a regular file of that name is not.
      if (existsSync(where.path) && lstatSync(where.path).isSocket()) unlinkSync(where.path);
    }
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new Error(`cannot listen for ${spec.name} on ${where.path ?? `${where.host}:${where.port}`}: ${err.code ?? err.message}`));
      };
      server.once('error', onError);
      const done = () => {
        server.off('error', onError);
        if (where.path) {
          if (spec.mode !== undefined) chmodSync(where.path, spec.mode);
          this.bound.push({ service: service.name, name: spec.name, kind: spec.kind, path: where.path });
        } else {
          const addr = server.address() as net.AddressInfo;
          this.bound.push({ service: service.name, name: spec.name, kind: spec.kind, address: addr.address, port: addr.port });
        }
        this.running.push({ service, spec, server });
        resolve();
      };
      if (where.path) server.listen(where.path, done);
      else server.listen({ host: where.host, port: where.port, exclusive: true }, done);
    });
  }

  private accept(service: ServiceDefinition, spec: ListenerSpec, socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.stopping) return void socket.destroy();
    const ip = socket.remoteAddress ?? 'unix';
    const serviceCount = this.perService.get(service.name) ?? 0;
    const ipKey = `${service.name}\0${ip}`;
    const ipCount = this.perIp.get(ipKey) ?? 0;
    let refused: 'too-many' | 'too-many-from-ip' | undefined;
    if (serviceCount >= this.limits.maxConnections) refused = 'too-many';
    else if (service.perIpLimit !== false && spec.kind !== 'unix' && ipCount >= this.limits.maxConnectionsPerIp) refused = 'too-many-from-ip';
    if (refused) {
      log.warn({ service: service.name, ip, reason: refused }, 'connection refused by limit');
      const line = spec.kind === 'tls' ? undefined : service.refusal?.(refused);
      if (line) socket.end(line);
      else socket.end();
      setTimeout(() => socket.destroy(), 2000).unref();
      return;
    }
    this.perService.set(service.name, serviceCount + 1);
    this.perIp.set(ipKey, ipCount + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.perService.set(service.name, (this.perService.get(service.name) ?? 1) - 1);
      const n = (this.perIp.get(ipKey) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(ipKey);
      else this.perIp.set(ipKey, n);
    };
    socket.once('close', release);

    const connLog = log.child({ service: service.name, listener: spec.name });
    const start = (s: Duplex, transport?: TransportInfo) => {
      const conn = new Connection(s, service.name, spec.name, this.securedCheck, connLog, () => this.tlsContexts.serverOptions(), transport);
      const clog = connLog.child({ session: conn.id });
      (conn as { log: typeof clog }).log = clog;
      clog.info({ remote: `${conn.info.remoteIp}:${conn.info.remotePort}`, tls: conn.tls, secured: conn.secured }, 'connect');
      if (s instanceof tls.TLSSocket) conn.serverName = (s as unknown as { servername?: string }).servername || undefined;
      try {
        const session = service.createSession(conn);
        this.sessions.set(conn, session);
      } catch (err) {
        clog.error({ err: (err as Error).message }, 'session start failed');
        conn.destroy();
        return;
      }
      conn.once('close', () => {
        this.sessions.delete(conn);
        if (this.sessions.size === 0) this.onEmpty?.();
        release();
        clog.info('disconnect');
      });
    };

    const afterTls = spec.kind === 'websocket' || spec.kind === 'websocket-tls' ? (s: net.Socket) => this.upgradeWebSocket(spec, s, start) : start;
    if (spec.kind === 'tls' || spec.kind === 'websocket-tls') {
      const secure = new tls.TLSSocket(socket, this.tlsContexts.serverOptions());
      const timer = setTimeout(() => secure.destroy(), 30_000);
      timer.unref();
      secure.once('secure', () => {
        clearTimeout(timer);
        afterTls(secure);
      });
      secure.on('error', (err) => {
        clearTimeout(timer);
        log.debug({ service: service.name, err: err.message }, 'TLS handshake failed');
        secure.destroy();
      });
    } else {
      afterTls(socket);
    }
  }

  private readonly webSocketEndpoints = new Map<ListenerSpec, { http: http.Server; wss: WebSocketServer }>();

  /** Runs the HTTP upgrade on an accepted socket and starts the session over the WebSocket's messages. */
  private upgradeWebSocket(spec: ListenerSpec, socket: net.Socket, start: (s: Duplex, t: TransportInfo) => void): void {
    let endpoint = this.webSocketEndpoints.get(spec);
    if (!endpoint) {
      const wss = new WebSocketServer({
        noServer: true,
        maxPayload: 64 * 1024 * 1024,
        handleProtocols: (offered) => (spec.subprotocol && offered.has(spec.subprotocol) ? spec.subprotocol : false),
      });
      const server = http.createServer((_req, res) => {
        res.writeHead(426, { Connection: 'Upgrade', Upgrade: 'websocket' }).end('This endpoint speaks IMAP over WebSocket.\n');
      });
      server.on('upgrade', (req, sock, head) => {
        const path = (req.url ?? '').split('?')[0];
        if (path !== (spec.httpPath ?? '/')) {
          sock.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
          return;
        }
        wss.handleUpgrade(req, sock, head, (ws) => {
          const raw = req.socket;
          const stream = createWebSocketStream(ws);
          stream.on('error', () => stream.destroy());
          start(stream, {
            remoteIp: raw.remoteAddress ?? 'unknown',
            remotePort: raw.remotePort ?? 0,
            localIp: raw.localAddress ?? 'unknown',
            localPort: raw.localPort ?? 0,
            encrypted: raw instanceof tls.TLSSocket,
          });
        });
      });
      endpoint = { http: server, wss };
      this.webSocketEndpoints.set(spec, endpoint);
    }
    endpoint.http.emit('connection', socket);
  }

  /** Stops accepting, asks every session to say goodbye, waits up to graceMs, then closes the rest. */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    // Stop accepting now; close() completes only once every connection is gone, so it is not awaited here.
    const listenersClosed = Promise.all(this.running.map((r) => new Promise<void>((res) => r.server.close(() => res()))));
    for (const r of this.running) {
      if (r.spec.kind === 'unix' && r.spec.path && existsSync(r.spec.path)) {
        try {
          unlinkSync(r.spec.path);
        } catch {
          /* already gone */
        }
      }
    }
    for (const [conn, session] of this.sessions) {
      try {
        session.shutdown();
      } catch (err) {
        conn.log.warn({ err: (err as Error).message }, 'session shutdown failed');
        conn.destroy();
      }
    }
    const allGone = new Promise<void>((resolve) => {
      if (this.sessions.size === 0) return resolve();
      this.onEmpty = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([allGone, graceOver]);
    clearTimeout(timer);
    for (const conn of this.sessions.keys()) conn.destroy();
    await listenersClosed;
  }
}
