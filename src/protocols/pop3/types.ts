// Shared types of the POP3 server: states (RFC 1939 section 3), the command table entry shape,
// and the session surface that command handlers use.
import type { Connection } from '../../server/connection.js';
import type { ServerContext } from '../../server/context.js';
import type { Maildrop } from './maildrop.js';
import type { Logger } from '../../lib/logger.js';

export type Pop3State = 'authorization' | 'transaction' | 'update';

export interface Pop3SessionApi {
  readonly conn: Connection;
  readonly ctx: ServerContext;
  readonly log: Logger;
  state: Pop3State;
  /** USER given in the AUTHORIZATION state, waiting for PASS. */
  pendingUser: string | undefined;
  /** The APOP timestamp from the greeting. */
  readonly apopTimestamp: string;
  maildrop: Maildrop | undefined;
  ok(text?: string): void;
  /** -ERR with an optional RFC 2449/3206 response code, e.g. err('IN-USE', 'Mailbox is locked'). */
  err(text: string, code?: string): void;
  /** Writes raw bytes (multi-line bodies, already dot-stuffed and terminated). */
  /** `onWritten`: the socket is done with the buffer (see Connection.write). */
  write(data: Buffer | string, onWritten?: () => void): void;
  drain(): Promise<void>;
  /** Reads the next client line (SASL continuation); null when the connection closes. */
  readLine(): Promise<string | null>;
  startTls(): Promise<void>;
  /** Opens the maildrop of an authenticated user and enters TRANSACTION, or answers -ERR. */
  enterTransaction(user: string, userRecord: import('../../auth/service.js').UserRecord): Promise<void>;
  close(): void;
}

export interface Pop3Command {
  name: string;
  /** States in which the command is allowed (RFC 1939). */
  states: Pop3State[];
  /** Capability lines this command contributes to CAPA (RFC 2449), computed per session. */
  capabilities?(s: Pop3SessionApi): string[];
  run(s: Pop3SessionApi, args: string[], rawArgs: string): Promise<void> | void;
}
