// The interface every message-store backend (Maildir now, mbox next) implements beneath the generic storage layer,
// as Dovecot's lib-storage splits index/<format> from list/<layout>: the backend is the truth, the index a cache.
import type { QuotaLimits } from './maildir/maildirsize.js';

/** One message as the store records it. */
export interface StoredMessage {
  uid: number;
  /** Where the backend finds the message (Maildir: current file name with subdir; mbox: offset...). Opaque above. */
  key: string;
  /** System flags and keywords as the store records them (never \Recent). */
  flags: string[];
  /** Internal date, ms since the epoch. */
  internalDate: number;
  /** RFC822.SIZE: the size with CRLF line ends. */
  size: number;
  /** Bytes on disk. */
  physicalSize: number;
  /** Message GUID (Maildir: the base file name unless the uidlist holds a G extension). */
  guid: string;
  /** A POP3 UIDL the store remembers (a dovecot-uidlist P record). */
  pop3Uidl?: string;
  /** Not yet seen by any session (Maildir: still in new/); such messages are \Recent after a rebuild. */
  unseenBySessions: boolean;
}

export type KnownMessage = Pick<StoredMessage, 'key' | 'internalDate' | 'size' | 'physicalSize'>;

export interface StoreSnapshot {
  uidValidity: number;
  uidNext: number;
  /** Ascending by UID. */
  messages: StoredMessage[];
  /**
   * The change stamp the scan's result matches (see MailboxStore.changeStamp): what others may change as it was before
   * the scan read it, what the scan wrote itself under the lock (Maildir's dovecot-uidlist) as the scan left it.
   */
  stamp: string;
  /** False when the stamp may miss a change made in the same tick of the file system's clock: confirm it later. */
  stampSettled?: boolean;
}

export interface MessageContent {
  /** Size of what stream()/read() return (CRLF form). */
  size: number;
  /** The message with CRLF line ends, optionally the byte range [start, end). */
  stream(start?: number, end?: number): NodeJS.ReadableStream;
  read(): Promise<Buffer>;
  /** read() with `before` bytes of room in front and `after` behind (see the storage API's MessageContent). */
  readFramed(before: number, after: number): Promise<Buffer>;
}

/** A copy of `message` with room around it, for stores that cannot read into a framed buffer directly. */
export function framedCopy(message: Buffer, before: number, after: number): Buffer {
  const out = Buffer.allocUnsafe(before + message.length + after);
  message.copy(out, before);
  return out;
}

export interface OpenOptions {
  /** The caller gives readFramed()'s buffer back (releaseFramed) once written: the store may read into pooled memory. */
  pooled?: boolean;
  /**
   * The message's key as the index holds it now (undefined: expunged), asked only when no file is at the key given
   * (the caller opened from an older record, see MailboxStore.opensStaleKeys).
   */
  latestKey?: () => string | undefined;
}

export interface SaveInput {
  data: Buffer | NodeJS.ReadableStream;
  flags: string[];
  internalDate?: Date;
  /** The envelope sender of a delivery ('' for the null sender), for formats that record it (mbox From_ line). */
  envelopeSender?: string;
}

/**
 * One mailbox in a store. Methods marked "locked" must run inside `locked()`, which excludes other writers of this
 * mailbox in this process and (through the backend's lock, e.g. dovecot-uidlist.lock) in other processes.
 */
export interface MailboxStore {
  readonly name: string;
  /** Where the mailbox lives (the Maildir folder, the mbox file): two store objects with one path are one mailbox. */
  readonly path: string;
  exists(): Promise<boolean>;
  /** A cheap value that changes whenever the store may have changed (directory mtimes, file size...). */
  changeStamp(): Promise<string>;
  locked<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * locked: the full list, assigning UIDs to messages that have none yet. `known` gives what the index already
   * holds for a UID, so that unchanged messages need no stat or read.
   */
  scan(known?: (uid: number) => KnownMessage | undefined): Promise<StoreSnapshot>;
  /**
   * locked: the keys of every message file there is now (Maildir: "new/<name>" and "cur/<name>"), without looking
   * into them: a stamp due for confirmation is confirmed when they are the index's keys, with no scan.
   */
  listKeys?(): Promise<string[]>;
  /** Writes the message durably outside the lock (temp file); `commit` (locked) makes it visible with a UID. */
  prepareSave(input: SaveInput): Promise<PreparedSave>;
  open(msg: StoredMessage, opts?: OpenOptions): Promise<MessageContent>;
  /**
   * open() finds a message by a key that is out of date (Maildir: a file renamed by a flag change is found by its base
   * name), so a session may open it from the record in its own view without asking the index for the latest one.
   */
  readonly opensStaleKeys?: boolean;
  /** locked: replaces the flags of each message; all or nothing. Returns the updated messages (keys may change). */
  setFlags(changes: Array<{ msg: StoredMessage; flags: string[] }>): Promise<StoredMessage[]>;
  /** locked: marks messages as seen by a session (Maildir: new/ to cur/). */
  settle(msgs: StoredMessage[]): Promise<StoredMessage[]>;
  /** locked: removes the messages; a message already gone is not an error. */
  expunge(msgs: StoredMessage[]): Promise<void>;
  /** Prepares copies of messages of `source` (possibly of another backend) with the given flags. */
  prepareCopy(source: MailboxStore, items: Array<{ msg: StoredMessage; flags: string[] }>): Promise<PreparedSave[]>;
  /** Calls `onChange` when something outside may have changed the store; close() stops it. */
  watch(onChange: () => void): { close(): void };
}

/** A message written to the store but not yet visible; commit() (inside locked()) assigns its UID. */
export interface PreparedSave {
  readonly physicalSize: number;
  readonly size: number;
  commit(): Promise<StoredMessage>;
  abort(): Promise<void>;
}

export interface QuotaUsage {
  limits?: QuotaLimits;
  bytes: number;
  messages: number;
}

/** Per-user quota kept by the backend (Maildir++: maildirsize). */
export interface QuotaStore {
  usage(): Promise<QuotaUsage>;
  /** Throws StorageError NOQUOTA when adding would exceed a limit. */
  check(addBytes: number, addMessages: number): Promise<void>;
  /** Records a change (positive on save, negative on expunge). */
  update(deltaBytes: number, deltaMessages: number): Promise<void>;
  recalculate(): Promise<QuotaUsage>;
}

export interface MailboxListEntry {
  name: string;
  selectable: boolean;
}

/** One user's store: the folder layout plus the message format. */
export interface UserBackend {
  readonly kind: string;
  readonly separator: string;
  /** Directory for per-user control files (subscriptions, special-use). */
  readonly controlDir: string;
  /** File name of the subscriptions file in controlDir ('subscriptions' for Maildir, '.subscriptions' for mbox). */
  readonly subscriptionsFile: string;
  readonly fsLayout: boolean;
  /** Existing mailboxes (INBOX included when it exists), and parents that exist only as hierarchy. */
  listMailboxes(): Promise<MailboxListEntry[]>;
  mailboxExists(name: string): Promise<boolean>;
  createMailbox(name: string): Promise<void>;
  /** Deletes the mailbox's messages and itself; children stay (they become children of a \NoSelect parent). */
  deleteMailbox(name: string): Promise<void>;
  /** Renames a mailbox with all its children; returns the renamed [old, new] names. */
  renameMailbox(from: string, to: string): Promise<Array<[string, string]>>;
  mailboxStore(name: string): MailboxStore;
  quota?: QuotaStore;
  close(): Promise<void>;
}
