// One IMAP connection (RFC 9051 / RFC 3501): feeds bytes to the command reader, answers literal
// continuations, checks each command's state against the table once, runs commands in order.
import type { Connection } from '../../server/connection.js';
import type { ServerContext } from '../../server/context.js';
import type { Session } from '../../server/service.js';
import type { Logger } from '../../lib/logger.js';
import type { UserRecord } from '../../auth/service.js';
import { openUserStorage, isStorageError, type StorageErrorCode, type UserStorage } from '../../storage/api.js';
import type { SelectedMailbox } from './selected.js';
import { CommandReader, type ImapCommand, type LiteralDecision, type LiteralInfo, type ReaderEvent } from './proto/command-reader.js';
import { ProtocolError } from './proto/protocol-error.js';
import { imapCommands } from './registry.js';
import { capabilityList } from './capabilities.js';
import { bad, no, ok, type Completion, type ImapSessionApi, type ImapState } from './types.js';

/** Unparsed input held while a command runs before the socket is paused. */
const PAUSE_AT_BYTES = 1024 * 1024;
/** Bad commands in a row before the connection is closed, as Dovecot does. */
const MAX_BAD_COMMANDS = 20;

export class ImapSession implements Session, ImapSessionApi {
  state: ImapState = 'not-authenticated';
  readonly enabled = new Set<string>();
  user: UserRecord | undefined;
  masterUser: string | undefined;
  storage: UserStorage | undefined;
  selected: SelectedMailbox | undefined;
  readonly log: Logger;
  private readonly reader: CommandReader;
  private busy = false;
  private paused = false;
  private closed = false;
  private badInARow = 0;
  private lineWaiter: ((line: string | null) => void) | undefined;
  /** Unsolicited responses (NOTIFY, RFC 5465) run one after another on this chain, never inside a command's output. */
  private noticeChain: Promise<void> = Promise.resolve();
  private readonly heldNotices: (() => Promise<void> | void)[] = [];
  /** Notices on the chain not yet finished: a command waits for the chain only when there are some. */
  private noticesQueued = 0;
  private commandRunning = false;
  idling = false;
  /** Hooks run when the session ends (close selected mailbox, release storage). */
  readonly onEnd: (() => Promise<void> | void)[] = [];

  constructor(
    readonly conn: Connection,
    readonly ctx: ServerContext,
  ) {
    this.log = conn.log;
    this.reader = new CommandReader({
      maxLineLength: ctx.config.imap.imap_max_line_length,
      maxLiteralSize: ctx.config.imap.imap_max_literal_size,
      onLiteral: (info) => this.literalDecision(info),
    });
    conn.on('data', (chunk: Buffer) => this.onData(chunk));
    conn.on('close', () => void this.onClose());
    conn.setIdleTimeout(ctx.config.server.preauth_timeout, () => this.idleTimeout());
    this.untagged(`OK [CAPABILITY ${this.capabilities().join(' ')}] ${ctx.config.server.login_greeting}`);
  }

  capabilities(): string[] {
    return capabilityList(this);
  }

  /** The command being read decides where its literal goes (commands are read one at a time, so the state is current). */
  private literalDecision(info: LiteralInfo): LiteralDecision {
    const spec = imapCommands.get(info.name);
    if (!spec?.onLiteral || !spec.states.includes(this.state)) return undefined;
    return spec.onLiteral(this, info);
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    if (this.lineWaiter) this.deliverLine();
    else void this.pump();
    if (this.busy && !this.paused && this.reader.bufferedBytes > PAUSE_AT_BYTES) {
      this.paused = true;
      this.conn.pause();
    }
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    // The answers to everything the client pipelined leave together when the input runs dry (or a command waits for
    // the client: readLine releases them first).
    this.conn.holdOutput();
    try {
      while (!this.closed && !this.lineWaiter) {
        const ev = this.reader.next();
        if (!ev) break;
        // Only a command is awaited: the other events are answered at once, without a promise.
        const running = this.handle(ev);
        if (running) await running;
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'session failure');
      this.untagged('BYE Internal error occurred.');
      this.close();
    } finally {
      this.busy = false;
      this.conn.releaseOutput();
      if (this.paused && !this.closed) {
        this.paused = false;
        this.conn.resume();
      }
    }
  }

  private handle(ev: ReaderEvent): Promise<void> | void {
    switch (ev.type) {
      case 'continue':
        this.write('+ OK\r\n');
        return;
      case 'error': {
        if (ev.fatal) {
          this.untagged(`BYE ${ev.text}`);
          return this.close();
        }
        const code = ev.code ? `[${ev.code}] ` : '';
        this.write(`${ev.tag ?? '*'} ${ev.kind} ${code}${ev.text}\r\n`);
        return this.countBad();
      }
      case 'line':
        // A raw line nobody asked for (cannot happen unless a handler gave up waiting); ignore it.
        return;
      case 'command':
        return this.dispatch(ev);
    }
  }

  private countBad(): void {
    if (++this.badInARow >= MAX_BAD_COMMANDS) {
      this.untagged('BYE Too many invalid IMAP commands.');
      this.close();
    }
  }

  private async dispatch(cmd: ImapCommand): Promise<void> {
    // Unsolicited responses already under way finish before the command writes anything.
    if (this.noticesQueued > 0) await this.noticeChain;
    this.commandRunning = true;
    try {
      await this.dispatchCommand(cmd);
    } finally {
      this.commandRunning = false;
      for (const fn of this.heldNotices.splice(0)) this.chainNotice(fn);
    }
  }

  unsolicited(fn: () => Promise<void> | void): void {
    if (this.closed) return;
    if (this.commandRunning && !this.idling) this.heldNotices.push(fn);
    else this.chainNotice(fn);
  }

  private chainNotice(fn: () => Promise<void> | void): void {
    this.noticesQueued++;
    this.noticeChain = this.noticeChain
      .then(async () => {
        if (!this.closed) await fn();
      })
      .catch((err) => this.log.warn({ err: (err as Error).message }, 'unsolicited response failed'))
      .finally(() => this.noticesQueued--);
  }

  private async dispatchCommand(cmd: ImapCommand): Promise<void> {
    const spec = imapCommands.get(cmd.name);
    let result: Completion;
    const started = Date.now();
    if (!spec) {
      result = bad('Unknown command.');
    } else if (!spec.states.includes(this.state)) {
      result = bad(
        this.state === 'not-authenticated'
          ? 'Please log in first.'
          : this.state === 'authenticated' && spec.states.includes('selected')
            ? 'No mailbox selected.'
            : `${cmd.name} is not allowed now.`,
      );
    } else {
      try {
        result = await spec.run(this, cmd);
      } catch (err) {
        result = this.errorCompletion(err, cmd);
      }
    }
    if (this.closed && cmd.name !== 'LOGOUT') return;
    // Tell the client what changed meanwhile, before the tagged reply (RFC 9051 section 7).
    if (this.selected && this.state === 'selected' && !result.silent && result.status !== 'BAD' && !spec?.opensMailbox) {
      try {
        await this.selected.announceChanges(this, { expunges: !spec?.deferExpunges });
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'mailbox sync failed');
      }
    }
    this.badInARow = result.status === 'BAD' ? this.badInARow + 1 : 0;
    if (!result.silent) this.write(`${cmd.tag} ${result.status} ${result.code ? `[${result.code}] ` : ''}${result.text}\r\n`);
    // One line per command at debug, as Dovecot: at info a busy server logs connections and logins, not every command.
    this.log.debug({ command: cmd.name, status: result.status, ms: Date.now() - started, user: this.user?.user }, 'command');
    if (this.badInARow >= MAX_BAD_COMMANDS) this.countBad();
    if (this.state === 'logout') this.close();
  }

  /** Maps a thrown error to the tagged reply: protocol errors as they are, storage errors by code. */
  private errorCompletion(err: unknown, cmd: ImapCommand): Completion {
    if (err instanceof ProtocolError) return { status: err.kind, code: err.code, text: err.message };
    const mapped = mapStorageError(err);
    if (mapped) return mapped;
    this.log.error({ command: cmd.name, err: (err as Error).message, stack: (err as Error).stack }, 'command failed');
    return no('Internal error occurred. Refer to server log for more information.', 'SERVERBUG');
  }

  untagged(text: string): void {
    this.write(`* ${text}\r\n`);
  }

  write(data: string | Buffer, onWritten?: () => void): void {
    this.conn.write(data, onWritten);
  }

  drain(): Promise<void> {
    return this.conn.drain();
  }

  readLine(): Promise<string | null> {
    if (this.closed) return Promise.resolve(null);
    this.conn.releaseOutput();
    this.reader.readRawLine();
    return new Promise((resolve) => {
      this.lineWaiter = resolve;
      this.deliverLine();
    });
  }

  private deliverLine(): void {
    const waiter = this.lineWaiter;
    if (!waiter) return;
    const ev = this.reader.next();
    if (!ev) return;
    this.lineWaiter = undefined;
    waiter(ev.type === 'line' ? ev.text : '');
  }

  async startTls(): Promise<void> {
    // Bytes pipelined after STARTTLS arrived in plaintext and must not be trusted (RFC 9051 section 6.2.1).
    this.reader.takeBuffered();
    await this.conn.startTls();
  }

  startCompression(): void {
    // Whatever the client sent after COMPRESS belongs to the compressed stream (RFC 4978 section 3).
    this.conn.startCompression(this.reader.takeBuffered());
  }

  get utf8Names(): boolean {
    return this.enabled.has('IMAP4REV2') || this.enabled.has('UTF8=ACCEPT');
  }

  async select(box: SelectedMailbox | undefined): Promise<void> {
    const previous = this.selected;
    this.selected = box;
    this.state = box ? 'selected' : this.user ? 'authenticated' : this.state;
    if (previous && previous !== box) await previous.close();
  }

  async login(user: UserRecord, opts: { masterUser?: string } = {}): Promise<Completion> {
    let storage: UserStorage;
    try {
      storage = await openUserStorage(user, this.ctx.storage);
      await storage.ensureDefaultMailboxes();
    } catch (err) {
      this.log.error({ user: user.user, err: (err as Error).message }, 'cannot open mail storage');
      return no('Temporary failure opening the mailbox storage.', 'UNAVAILABLE');
    }
    this.user = user;
    this.masterUser = opts.masterUser;
    this.storage = storage;
    this.onEnd.push(async () => {
      await this.select(undefined);
      await storage.close();
    });
    this.state = 'authenticated';
    this.conn.setIdleTimeout(this.ctx.config.imap.imap_client_timeout, () => this.idleTimeout());
    this.log.info({ user: user.user }, 'login');
    return ok('Logged in', `CAPABILITY ${this.capabilities().join(' ')}`);
  }

  logout(): void {
    this.state = 'logout';
  }

  private idleTimeout(): void {
    this.untagged('BYE Disconnected for inactivity.');
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.end();
  }

  private async onClose(): Promise<void> {
    this.closed = true;
    this.reader.close();
    this.lineWaiter?.(null);
    this.lineWaiter = undefined;
    for (const hook of this.onEnd.splice(0)) {
      try {
        await hook();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'cleanup failed');
      }
    }
  }

  shutdown(): void {
    this.untagged('BYE Server shutting down.');
    this.close();
  }
}

/** Storage errors carry a closed set of codes; IMAP shows them as RFC 5530 response codes. */
const STORAGE_CODES: Record<StorageErrorCode, string> = {
  NOTFOUND: 'NONEXISTENT',
  EXISTS: 'ALREADYEXISTS',
  PERM: 'NOPERM',
  NOQUOTA: 'OVERQUOTA',
  INUSE: 'INUSE',
  EXPUNGED: 'EXPUNGEISSUED',
  TEMP: 'UNAVAILABLE',
  BADNAME: 'CANNOT',
  TOOBIG: 'TOOBIG',
  LIMIT: 'LIMIT',
  HASCHILDREN: 'HASCHILDREN',
  MODIFIED: 'MODIFIED',
  CORRUPTED: 'CORRUPTION',
  INTERNAL: 'SERVERBUG',
};

export function mapStorageError(err: unknown): Completion | undefined {
  if (!isStorageError(err)) return undefined;
  return no(`${err.message}.`, STORAGE_CODES[err.code] ?? 'SERVERBUG');
}
