// Shared types of the IMAP server: connection states (RFC 9051 section 3), the command table entry,
// the completion a command returns, and the session surface that command handlers use.
import type { Connection } from '../../server/connection.js';
import type { ServerContext } from '../../server/context.js';
import type { Logger } from '../../lib/logger.js';
import type { ImapCommand, LiteralDecision, LiteralInfo } from './proto/command-reader.js';
import type { UserRecord } from '../../auth/service.js';
import type { UserStorage } from '../../storage/api.js';
import type { SelectedMailbox } from './selected.js';

export type ImapState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** The tagged status line a command ends with. */
export interface Completion {
  status: 'OK' | 'NO' | 'BAD';
  /** Response code without brackets, e.g. "READ-WRITE", "UIDNEXT 4", "CAPABILITY IMAP4rev1 ...". */
  code?: string;
  text: string;
  /** The command already wrote its tagged line itself (STARTTLS answers before the handshake). */
  silent?: boolean;
}

export const ok = (text: string, code?: string): Completion => ({ status: 'OK', text, code });
export const no = (text: string, code?: string): Completion => ({ status: 'NO', text, code });
export const bad = (text: string, code?: string): Completion => ({ status: 'BAD', text, code });
export const alreadyAnswered: Completion = { status: 'OK', text: '', silent: true };

export interface ImapSessionApi {
  readonly conn: Connection;
  readonly ctx: ServerContext;
  readonly log: Logger;
  state: ImapState;
  /** Extensions turned on with ENABLE (upper-case names). */
  readonly enabled: Set<string>;
  /** The logged-in user, once authenticated. */
  user: UserRecord | undefined;
  /** The user's mail store, once authenticated. */
  storage: UserStorage | undefined;
  /** The selected mailbox (state 'selected'). */
  selected: SelectedMailbox | undefined;
  /** Mailbox names on the wire: UTF-8 when UTF8=ACCEPT or IMAP4rev2 is enabled, else modified UTF-7. */
  readonly utf8Names: boolean;
  /** Selects a mailbox (SELECT/EXAMINE), closing the previous one; writes nothing itself. */
  select(box: SelectedMailbox | undefined): Promise<void>;
  /**
   * Runs `fn` (which writes unsolicited responses, RFC 5465 NOTIFY) when no command output can be interleaved:
   * at once between commands or while IDLE waits, else right after the running command's tagged reply.
   */
  unsolicited(fn: () => Promise<void> | void): void;
  /** IDLE is waiting for DONE: unsolicited responses may go out at once. */
  idling: boolean;
  /** Writes an untagged response: "* " + text + CRLF. */
  untagged(text: string): void;
  /** Writes raw bytes (literals, pre-formatted responses); `onWritten` runs once a Buffer has left, if it does (see Connection.write). */
  write(data: string | Buffer, onWritten?: () => void): void;
  drain(): Promise<void>;
  /** The next raw client line (AUTHENTICATE continuation, IDLE's DONE); null when the connection closes. */
  readLine(): Promise<string | null>;
  startTls(): Promise<void>;
  /** Turns on DEFLATE both ways (COMPRESS, RFC 4978) right after the tagged OK was written. */
  startCompression(): void;
  /** The master user who logged in as `user` (Dovecot's master users), if any. */
  masterUser: string | undefined;
  /** Completes a login: sets the user, opens storage, moves to the authenticated state. */
  login(user: UserRecord, opts?: { masterUser?: string }): Promise<Completion>;
  /** The capability list for the current state and connection. */
  capabilities(): string[];
  /** Ends the session after the current command. */
  logout(): void;
}

export interface ImapCommandSpec {
  /** Upper-case command name; "UID FETCH" style names for UID commands. */
  name: string;
  states: ImapState[];
  /** FETCH, STORE and SEARCH by sequence number: no EXPUNGE responses while they run (RFC 9051 section 7.5.1). */
  deferExpunges?: boolean;
  /** SELECT and EXAMINE: the mailbox was brought up to date as it opened, so no second sync before the tagged reply. */
  opensMailbox?: boolean;
  /**
   * Capabilities this command adds (e.g. "IDLE"), given the session. A function declared without the session
   * parameter gives the same list to every session (isAdvertised gathers those once).
   */
  capabilities?(s: ImapSessionApi): string[];
  /** Where a literal of this command goes while it is read: a sink (APPEND streams big messages), a refusal, or undefined (buffered). */
  onLiteral?(s: ImapSessionApi, info: LiteralInfo): LiteralDecision;
  run(s: ImapSessionApi, cmd: ImapCommand): Promise<Completion> | Completion;
}
