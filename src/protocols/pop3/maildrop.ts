// The POP3 maildrop (RFC 1939): a fixed snapshot of INBOX for the session (mail delivered meanwhile is
// not shown), the session lock of Dovecot's pop3_lock_session, deletion marks committed at QUIT only.
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { ServerContext } from '../../server/context.js';
import type { UserRecord } from '../../auth/service.js';
import { openUserStorage, releaseFramed, type MailboxSession, type MessageMeta, type UserStorage } from '../../storage/api.js';
import { varExpand } from '../../lib/var-expand.js';
import type { Logger } from '../../lib/logger.js';
import { DotStuffer, DotStuffing, needsDotStuffing, terminatorAfter } from './dot-stuffing.js';
import type { Pop3SessionApi } from './types.js';

/** Messages up to this size are read and sent in one piece; larger ones are streamed. */
const SEND_WHOLE_BELOW = 1024 * 1024;
/** Room read in front of a message for its status line ("+OK 1048575 octets\r\n") and behind it for the terminator. */
const STATUS_ROOM = 32;
const TERMINATOR_ROOM = 5;

export class MaildropLockedError extends Error {}

/** The header block (up to the blank line) of a message stream, as latin1 text. */
async function readHeader(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += (chunk as Buffer).toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    if (end >= 0) return text.slice(0, end + 2);
  }
  return text;
}

/** Users with a POP3 session open in this process (pop3_lock_session). */
const lockedUsers = new Set<string>();

export class Maildrop {
  private readonly deleted = new Set<number>();
  private readonly retrieved = new Set<number>();
  /** X-UIDL header values by UID, read at open when pop3_reuse_xuidl is on. */
  private readonly xUidls = new Map<number, string>();
  private released = false;

  private constructor(
    readonly user: string,
    private readonly storage: UserStorage,
    private readonly mailbox: MailboxSession,
    private readonly messages: readonly MessageMeta[],
    private readonly ctx: ServerContext,
    private readonly log: Logger,
    private readonly locked: boolean,
  ) {}

  static async open(user: string, record: UserRecord, ctx: ServerContext, log: Logger): Promise<Maildrop> {
    const lock = ctx.config.pop3.pop3_lock_session;
    if (lock) {
      if (lockedUsers.has(user)) throw new MaildropLockedError(user);
      lockedUsers.add(user);
    }
    try {
      const storage = await openUserStorage(record, ctx.storage);
      try {
        const mailbox = await storage.openMailbox('INBOX');
        const hideFlag = ctx.config.pop3.pop3_deleted_flag;
        const messages = mailbox.messages().filter((m) => !hideFlag || !m.flags.includes(hideFlag));
        const drop = new Maildrop(user, storage, mailbox, [...messages], ctx, log, lock);
        if (ctx.config.pop3.pop3_reuse_xuidl) await drop.readXUidls();
        return drop;
      } catch (err) {
        await storage.close();
        throw err;
      }
    } catch (err) {
      if (lock) lockedUsers.delete(user);
      throw err;
    }
  }

  /** pop3_reuse_xuidl: a message's X-UIDL header (mail migrated from another POP3 server) becomes its UIDL. */
  private async readXUidls(): Promise<void> {
    for (const m of this.messages) {
      if (m.pop3Uidl) continue;
      const content = await this.mailbox.openMessage(m.uid);
      const head = await readHeader(content.stream(0, Math.min(content.size, 64 * 1024)));
      const match = /(?:^|\r\n)X-UIDL:[ \t]*([\x21-\x7e]+)[ \t]*\r\n/i.exec(head);
      if (match) this.xUidls.set(m.uid, match[1]);
    }
  }

  get count(): number {
    return this.messages.length;
  }

  size(i: number): number {
    return this.messages[i].size;
  }

  isDeleted(i: number): boolean {
    return this.deleted.has(i);
  }

  markDeleted(i: number): void {
    this.deleted.add(i);
  }

  resetDeleted(): void {
    this.deleted.clear();
  }

  totals(): { count: number; size: number } {
    let count = 0;
    let size = 0;
    for (let i = 0; i < this.messages.length; i++) {
      if (this.deleted.has(i)) continue;
      count++;
      size += this.messages[i].size;
    }
    return { count, size };
  }

  /**
   * The UIDL: one the store remembers (a dovecot-uidlist P record; an mbox X-UIDL header when
   * pop3_reuse_xuidl), else pop3_uidl_format with Dovecot's variables (%u uid, %v uidvalidity, %g guid).
   */
  uidl(i: number): string {
    const m = this.messages[i];
    const stored = this.xUidls.get(m.uid) ?? m.pop3Uidl;
    if (stored) return stored;
    return varExpand(this.ctx.config.pop3.pop3_uidl_format, { u: m.uid, v: this.mailbox.uidValidity, g: m.guid, uid: m.uid, uidvalidity: this.mailbox.uidValidity, guid: m.guid });
  }

  /** Reads of pipelined RETRs started ahead of time, by message index (small messages only). */
  private readonly readAhead = new Map<number, Promise<Buffer | undefined>>();

  /** Message i with room for the status line in front and the terminator behind; undefined when it is streamed. */
  private load(i: number): Promise<Buffer | undefined> {
    const m = this.messages[i];
    if (m.size >= SEND_WHOLE_BELOW) return Promise.resolve(undefined);
    return this.mailbox.openMessage(m.uid, { pooled: true }).then((c) => c.readFramed(STATUS_ROOM, TERMINATOR_ROOM));
  }

  /**
   * A client pipelining RETRs (fetchmail, getmail) waits on one file read after another; the session starts
   * the reads of the next few queued ones while it sends the current one.
   */
  prefetch(i: number): void {
    if (i < 0 || i >= this.messages.length || this.readAhead.has(i) || this.readAhead.size >= 16) return;
    const p = this.load(i);
    p.catch(() => undefined);
    this.readAhead.set(i, p);
  }

  /** Sends message i (all of it, or its header and the first topLines body lines) dot-stuffed. */
  async send(s: Pop3SessionApi, i: number, topLines: number | undefined): Promise<void> {
    const m = this.messages[i];
    const ahead = this.readAhead.get(i);
    this.readAhead.delete(i);
    let framed: Buffer | undefined;
    try {
      framed = await (ahead ?? this.load(i));
    } catch (err) {
      if ((err as { code?: string }).code === 'EXPUNGED') return s.err('Message was expunged by another session.');
      throw err;
    }
    const status = topLines === undefined ? `+OK ${m.size} octets\r\n` : '+OK\r\n';
    if (framed) {
      const messageEnd = framed.length - TERMINATOR_ROOM;
      const message = framed.subarray(STATUS_ROOM, messageEnd);
      if (topLines === undefined && !needsDotStuffing(message)) {
        // The usual RETR: status line, message and terminator written around the message where it was read, one write.
        const from = STATUS_ROOM - framed.write(status, STATUS_ROOM - status.length, 'latin1');
        const to = messageEnd + framed.write(terminatorAfter(message), messageEnd, 'latin1');
        s.write(framed.subarray(from, to), () => releaseFramed(framed));
      } else {
        const stuffing = new DotStuffing(topLines);
        // Three writes, no copy: the connection sends them with the answers around them in its batched writes.
        s.write(status);
        s.write(stuffing.process(message));
        s.write(stuffing.finish());
      }
      if (topLines === undefined) this.retrieved.add(i);
      return s.drain();
    }
    let content;
    try {
      content = await this.mailbox.openMessage(m.uid);
    } catch (err) {
      if ((err as { code?: string }).code === 'EXPUNGED') return s.err('Message was expunged by another session.');
      throw err;
    }
    s.write(status);
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        s.write(chunk);
        s.drain().then(() => cb(), cb);
      },
    });
    await pipeline(content.stream(), new DotStuffer(topLines), sink);
    if (topLines === undefined) this.retrieved.add(i);
  }

  /** QUIT in TRANSACTION: expunges (or hides) the marked messages and marks retrieved ones \Seen. */
  async commit(): Promise<number> {
    const deletedUids = [...this.deleted].map((i) => this.messages[i].uid);
    // Messages already \Seen when the session began are left alone: a repeated download changes no file and takes no lock.
    const seenUids = [...this.retrieved].filter((i) => !this.deleted.has(i) && !this.messages[i].flags.includes('\\Seen')).map((i) => this.messages[i].uid);
    if (seenUids.length) await this.mailbox.updateFlags(seenUids, 'add', ['\\Seen']);
    if (deletedUids.length) {
      const hideFlag = this.ctx.config.pop3.pop3_deleted_flag;
      if (hideFlag) {
        await this.mailbox.updateFlags(deletedUids, 'add', [hideFlag]);
      } else {
        await this.mailbox.updateFlags(deletedUids, 'add', ['\\Deleted']);
        await this.mailbox.expunge(deletedUids);
      }
    }
    this.log.debug({ deleted: deletedUids.length, seen: seenUids.length }, 'maildrop committed');
    return deletedUids.length;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.locked) lockedUsers.delete(this.user);
    try {
      await this.mailbox.close();
    } finally {
      await this.storage.close();
    }
  }
}
