// What a protocol plugs into the server: a named service with its listeners (TCP, implicit TLS,
// unix socket) and a session factory; the server handles limits, TLS, timeouts and shutdown.
import type { Connection } from './connection.js';
import type { PortValue } from '../config/define.js';

export interface ListenerSpec {
  /** Name used in logs and in the ready report: imap, imaps, pop3, lmtp, lmtp-unix, ... */
  name: string;
  /** websocket / websocket-tls: HTTP upgrade at httpPath, then the protocol over WebSocket messages. */
  kind: 'tcp' | 'tls' | 'unix' | 'websocket' | 'websocket-tls';
  port?: PortValue;
  /** Unix socket path (absolute). */
  path?: string;
  /** HTTP path of a WebSocket endpoint, e.g. /imap. */
  httpPath?: string;
  /** WebSocket subprotocol to select when the client offers it, e.g. "imap". */
  subprotocol?: string;
  /** File mode of a unix socket. */
  mode?: number;
}

export interface Session {
  /** Says goodbye in the protocol's words and closes (graceful shutdown). */
  shutdown(): void;
}

export interface ServiceDefinition {
  name: string;
  listeners: ListenerSpec[];
  createSession(conn: Connection): Session;
  /** A line to send before closing a connection refused by a limit (e.g. "* BYE Too many connections"). */
  refusal?(reason: 'too-many' | 'too-many-from-ip'): string;
  /** Whether the per-IP limit applies (not for local sockets such as the auth socket used by an MTA). */
  perIpLimit?: boolean;
}
