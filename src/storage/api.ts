// The storage API, the only module protocols (IMAP, POP3, LMTP) import: users, mailboxes, sessions, saves, change
// events. Semantics of RFC 9051 (UIDs, UIDVALIDITY, \Recent, MODSEQ, EXPUNGE) over Dovecot-compatible stores.
import type { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { UserStorageImpl, mailLocationFor } from './user-storage.js';
import { parseMailLocation } from './location.js';
import { indexDirFor, UserIndex } from '../index/user-index.js';
import type { FlagUpdateResult, MessageMeta, SyncResult, ChangesEvent } from './mailbox.js';
import type { QuotaUsage } from './backends/backend.js';

export { StorageError, isStorageError, STORAGE_ERROR_CODES, type StorageErrorCode } from './errors.js';
export type { FlagUpdateResult, MessageMeta, SyncResult, ChangesEvent, QuotaUsage };
export { registerBackend, type BackendFactory } from './user-storage.js';
export { SYSTEM_FLAGS } from './common/flags.js';
export { releaseFrame as releaseFramed } from './common/frame-pool.js';
export { MetadataStore, MetadataLimitError, METADATA_MAX_ENTRIES, METADATA_MAX_VALUE_SIZE, SERVER_SCOPE } from './metadata/metadata-store.js';
import type { MetadataStore } from './metadata/metadata-store.js';
import type { UserChangeEvent } from './user-events.js';
export type { UserChangeEvent };

export interface MailUserInfo {
  user: string;
  home?: string;
  /** The userdb's mail location (overrides the default). */
  mail?: string;
  /** Dovecot quota rule, e.g. "*:storage=1G:messages=1000". */
  quotaRule?: string;
}

export interface StorageOptions {
  dataDir: string;
  /** e.g. 'maildir:/data/mail/%u/Maildir'; '' means maildir:<dataDir>/mail/%u/Maildir. */
  defaultMailLocation: string;
  fsync: boolean;
}

export interface MailboxInfo {
  /** Full UTF-8 name with the hierarchy separator. */
  name: string;
  separator: string;
  specialUse?: string;
  subscribed: boolean;
  hasChildren: boolean;
  /** Exists only as a parent in the hierarchy (\Noselect). */
  noSelect: boolean;
}

export interface MailboxStatus {
  messages: number;
  recent: number;
  unseen: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
  /** Sum of RFC822.SIZE (STATUS SIZE, RFC 8438). */
  size: number;
  /** Messages with \Deleted (STATUS DELETED, RFC 9051). */
  deleted: number;
}

export interface MessageContent {
  /** RFC822.SIZE: length of what stream()/read() give. */
  size: number;
  /** The message with CRLF line ends; [start, end) selects a byte range of that form. */
  stream(start?: number, end?: number): NodeJS.ReadableStream;
  read(): Promise<Buffer>;
  /**
   * The message with CRLF line ends at [before, length - after) of the returned buffer: room in front and behind for
   * a protocol's own framing (POP3's status line and terminator), so a small message leaves in one write, uncopied.
   * When the message was opened with `pooled`, the caller hands the buffer back with releaseFramed() once written out.
   */
  readFramed(before: number, after: number): Promise<Buffer>;
}

export interface CopyResult {
  uidValidity: number;
  srcUids: number[];
  destUids: number[];
}

/**
 * A session's view of one mailbox. Emits 'changes' (ChangesEvent) when other sessions or processes changed it;
 * other processes' changes are watched for (inotify) from the first listener on.
 */
export interface MailboxSession extends EventEmitter {
  readonly name: string;
  readonly uidValidity: number;
  readonly readOnly: boolean;
  uidNext(): number;
  highestModseq(): number;
  /** The view in sequence order (seq = index + 1); it changes only at sync() (flags also at own updateFlags). */
  messages(): readonly MessageMeta[];
  /** messages().length, without making the records of a large mailbox's view that nothing has read yet. */
  messageCount(): number;
  /** Keywords set on some message of the view (kept, not recounted, when this session's own changes add one). */
  keywordsInUse(): readonly string[];
  /** The sequence number of the first message without \Seen in the view, if any. */
  firstUnseenSeq(): number | undefined;
  seqOf(uid: number): number | undefined;
  /** Picks up changes by anyone; returns what changed in this view for EXISTS/EXPUNGE/FETCH responses. */
  sync(): Promise<SyncResult>;
  /** Flag changes of messages in the view only (no expunges, no new messages): sequence numbers stay. */
  syncFlags(): Promise<SyncResult['flagsChanged']>;
  /** \Recent messages of this session (one session gets each, as in Dovecot). */
  recentUids(): ReadonlySet<number>;
  /** The message's bytes (CRLF); StorageError EXPUNGED when it is gone. */
  /** `pooled`: the caller gives readFramed()'s buffer back with releaseFramed() once written. */
  openMessage(uid: number, opts?: { pooled?: boolean }): Promise<MessageContent>;
  /** All or nothing; UIDs already expunged are skipped; UNCHANGEDSINCE failures are listed in `modified`. */
  updateFlags(uids: number[], mode: 'add' | 'remove' | 'replace', flags: string[], opts?: { unchangedSince?: number }): Promise<FlagUpdateResult>;
  copy(uids: number[], dest: string): Promise<CopyResult>;
  move(uids: number[], dest: string): Promise<CopyResult>;
  /** Expunges \Deleted messages (only those in `uids` when given); the view learns it at the next sync(). */
  expunge(uids?: number[]): Promise<number[]>;
  /** Parsed data (envelope, bodystructure, header fields) cached per message in the index. */
  getCached(uid: number, key: string): unknown;
  setCached(uid: number, key: string, value: unknown): void;
  /** setCached for many messages at once (one index transaction). */
  setCachedMany(entries: ReadonlyArray<{ uid: number; key: string; value: unknown }>): void;
  /** Parsed data about the mailbox as a whole (derived from its messages), cached in the index. */
  getMailboxCached(key: string): unknown;
  setMailboxCached(key: string, value: unknown): void;
  /**
   * A value for this mailbox kept in memory while its index is open, shared by every session of the mailbox in this
   * process (made by `create` on first use, again after UIDVALIDITY changed): for data derived from messages, which
   * never change under one UIDVALIDITY.
   */
  memo<T>(key: string, create: () => T): T;
  /** UIDs expunged with a modseq above `modseq` (QRESYNC). */
  expungedSince(modseq: number): number[];
  close(): Promise<void>;
}

export interface UserStorage {
  readonly separator: string;
  listMailboxes(): Promise<MailboxInfo[]>;
  /** Subscribed names, also those of mailboxes that do not exist (LSUB / LIST (SUBSCRIBED)). */
  listSubscriptions(): Promise<string[]>;
  createMailbox(name: string, opts?: { specialUse?: string }): Promise<void>;
  deleteMailbox(name: string): Promise<void>;
  /** With children; renaming INBOX moves its messages (RFC 3501 6.3.5). */
  renameMailbox(from: string, to: string): Promise<void>;
  subscribe(name: string): Promise<void>;
  unsubscribe(name: string): Promise<void>;
  /** O(1) from the index (after a cheap check that the store did not change). */
  status(name: string): Promise<MailboxStatus>;
  openMailbox(name: string, opts?: { readOnly?: boolean }): Promise<MailboxSession>;
  /** Durable before it resolves: the LMTP and APPEND path. */
  save(mailbox: string, message: Buffer | NodeJS.ReadableStream, opts?: { flags?: string[]; internalDate?: Date; envelopeSender?: string }): Promise<{ uid: number; uidValidity: number }>;
  /** INBOX, Sent, Drafts, Trash, Junk, Archive with their special-use attributes. */
  ensureDefaultMailboxes(): Promise<void>;
  /** Quota usage and limits, undefined when the user has no quota rule. */
  quota(): Promise<QuotaUsage | undefined>;
  recalculateQuota(): Promise<QuotaUsage | undefined>;
  /** Listens to changes of the user's mailboxes in this process (messages, create, delete, rename); returns the unsubscribe. */
  watchChanges(listener: (event: UserChangeEvent) => void): () => void;
  /** The user's METADATA (RFC 5464) annotations, kept in a file beside the store. */
  metadata(): MetadataStore;
  /** The store keeps quota limits that setQuotaLimits() can change (Maildir++). */
  readonly quotaSettable: boolean;
  /** Replaces the limits (0 or absent: no limit), kept beside the store over the userdb rule; the new usage. */
  setQuotaLimits(limits: { storage?: number; messages?: number }): Promise<QuotaUsage | undefined>;
  close(): Promise<void>;
}

export async function openUserStorage(user: MailUserInfo, opts: StorageOptions): Promise<UserStorage> {
  return UserStorageImpl.open(user, opts);
}

/**
 * Rebuilds the user's index from the store (`roost index rebuild`): drops the entries of the mailbox (or all
 * mailboxes) and scans again; UIDs come from the store (dovecot-uidlist), so they stay the same.
 */
export async function rebuildIndex(user: MailUserInfo, opts: StorageOptions, mailbox?: string, onProgress?: (done: number, total: number, name: string) => void): Promise<void> {
  const storage = await UserStorageImpl.open(user, opts);
  try {
    const names = mailbox ? [mailbox] : (await storage.listMailboxes()).filter((m) => !m.noSelect).map((m) => m.name);
    for (const [i, name] of names.entries()) {
      storage.index.dropMailbox(name);
      const shared = await storage.sharedMailbox(name);
      await shared.refresh();
      onProgress?.(i + 1, names.length, name);
    }
  } finally {
    await storage.close();
  }
}

/** Removes a user's whole index directory (it is rebuilt at the next open). No session of the user may be open. */
export async function deleteIndex(user: MailUserInfo, opts: StorageOptions): Promise<void> {
  const loc = parseMailLocation(mailLocationFor(user, opts), user.user, user.home);
  const dir = indexDirFor(opts.dataDir, user.user, loc.index);
  await UserIndex.closeIdle(dir);
  await rm(dir, { recursive: true, force: true });
}

export { UserIndex };
