// A user's mbox store laid out as Dovecot's mbox: INBOX a file of its own (INBOX=, e.g. /var/mail/%u), folders files
// under the root with '/' as separator, parents directories (\NoSelect), .subscriptions and .imap/ in the root (mbox-storage.c).
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { StorageError, toStorageError } from '../../errors.js';
import { fsyncDir, pathExists } from '../../common/fsutil.js';
import { decodeMutf7, encodeMutf7, validateMailboxName } from '../../list/names.js';
import { SPECIAL_USE_FILE } from '../../list/special-use.js';
import type { MailboxListEntry, MailboxStore, UserBackend } from '../backend.js';
import { DEFAULT_MBOX_LOCK_OPTIONS, forgetSharedMbox, type MboxLockOptions } from './lock.js';
import { MboxMailboxStore } from './mbox-mailbox.js';

export const MBOX_SEPARATOR = '/';
/** Dovecot's per-mailbox index directory in the root, renamed and removed along with mailboxes. */
export const MBOX_INDEX_DIR = '.imap';

export interface MboxUserOptions {
  /** the mail root (folders) */
  root: string;
  /** the INBOX file (INBOX=); default <root>/inbox */
  inboxPath?: string;
  /** the user, for the From_ line of saved mail (user@host, as Dovecot writes for APPEND) */
  user: string;
  fsync?: boolean;
  lock?: Partial<MboxLockOptions>;
}

function isHiddenEntry(name: string): boolean {
  // dot files (.imap, .subscriptions, Roost's temp and journal files), dotlocks and Roost's special-use file are not mailboxes
  return name.startsWith('.') || name.endsWith('.lock') || name === SPECIAL_USE_FILE;
}

export class MboxUserBackend implements UserBackend {
  readonly kind = 'mbox';
  readonly separator = MBOX_SEPARATOR;
  readonly subscriptionsFile = '.subscriptions';
  readonly fsLayout = true;
  readonly root: string;
  readonly inboxPath: string;
  private readonly fsync: boolean;
  private readonly lockOptions: MboxLockOptions;
  private readonly fromSender: string;
  private readonly stores = new Map<string, MboxMailboxStore>();

  constructor(opts: MboxUserOptions) {
    this.root = opts.root;
    this.inboxPath = opts.inboxPath ?? join(opts.root, 'inbox');
    this.fsync = opts.fsync ?? true;
    this.lockOptions = { ...DEFAULT_MBOX_LOCK_OPTIONS, ...opts.lock };
    this.fromSender = opts.user.includes('@') ? opts.user : `${opts.user}@${hostname()}`;
  }

  get controlDir(): string {
    return this.root;
  }

  /** The file (or, for a \NoSelect parent, the directory) of a mailbox. */
  pathOf(name: string): string {
    if (name === 'INBOX') return this.inboxPath;
    const parts = validateMailboxName(name, MBOX_SEPARATOR, { fsLayout: false });
    if (parts.some((p) => p.endsWith('.lock'))) throw new StorageError('BADNAME', 'Mailbox name may not end with .lock');
    return join(this.root, ...parts.map(encodeMutf7));
  }

  private indexDirOf(name: string): string {
    const parts = name.split(MBOX_SEPARATOR).map(encodeMutf7);
    return join(this.root, ...parts.slice(0, -1), MBOX_INDEX_DIR, parts[parts.length - 1]!);
  }

  async listMailboxes(): Promise<MailboxListEntry[]> {
    const out: MailboxListEntry[] = [];
    const inboxInRoot = dirname(this.inboxPath) === this.root ? basename(this.inboxPath) : undefined;
    const walk = async (dir: string, prefix: string[]): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw toStorageError(err);
      }
      for (const e of entries) {
        if (isHiddenEntry(e.name)) continue;
        if (prefix.length === 0 && e.name === inboxInRoot) continue;
        let component: string;
        try {
          component = decodeMutf7(e.name);
        } catch {
          continue;
        }
        const name = [...prefix, component].join(MBOX_SEPARATOR);
        if (name.toUpperCase() === 'INBOX') continue;
        let isDir = e.isDirectory();
        let isFile = e.isFile();
        if (e.isSymbolicLink()) {
          const st = await stat(join(dir, e.name)).catch(() => undefined);
          isDir = !!st?.isDirectory();
          isFile = !!st?.isFile();
        }
        if (isFile) out.push({ name, selectable: true });
        else if (isDir) {
          out.push({ name, selectable: false });
          await walk(join(dir, e.name), [...prefix, component]);
        }
      }
    };
    await walk(this.root, []);
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const inboxExists = await this.isFile(this.inboxPath);
    return [{ name: 'INBOX', selectable: inboxExists }, ...out];
  }

  private async isFile(path: string): Promise<boolean> {
    try {
      return (await stat(path)).isFile();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw toStorageError(err);
    }
  }

  async mailboxExists(name: string): Promise<boolean> {
    return this.isFile(this.pathOf(name));
  }

  /** Creates an empty mbox file (parents as directories), durably. */
  async createMailbox(name: string): Promise<void> {
    const path = this.pathOf(name);
    if (await pathExists(path)) throw new StorageError('EXISTS');
    try {
      // a parent that is a mailbox file cannot hold children (Dovecot: "Mailbox doesn't allow inferior mailboxes")
      let dir = dirname(path);
      while (dir.startsWith(this.root) && dir !== this.root) {
        if (await this.isFile(dir)) throw new StorageError('BADNAME', "Mailbox doesn't allow inferior mailboxes");
        dir = dirname(dir);
      }
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const fh = await open(path, 'wx', 0o600);
      await fh.close();
      if (this.fsync) await fsyncDir(dirname(path));
    } catch (err) {
      throw toStorageError(err);
    }
  }

  async deleteMailbox(name: string): Promise<void> {
    if (name === 'INBOX') throw new StorageError('PERM', 'INBOX cannot be deleted');
    const path = this.pathOf(name);
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      throw toStorageError(err);
    }
    try {
      if (st.isDirectory()) {
        const left = (await readdir(path)).filter((n) => !isHiddenEntry(n));
        if (left.length > 0) throw new StorageError('HASCHILDREN', 'Mailbox has children, delete them first');
        await rm(join(path, MBOX_INDEX_DIR), { recursive: true, force: true });
        await rmdir(path);
      } else {
        await this.closeStore(name);
        await unlink(path);
        await forgetSharedMbox(path);
        await rm(this.indexDirOf(name), { recursive: true, force: true });
      }
      if (this.fsync) await fsyncDir(dirname(path));
    } catch (err) {
      throw toStorageError(err);
    }
  }

  async renameMailbox(from: string, to: string): Promise<Array<[string, string]>> {
    if (from === 'INBOX') throw new StorageError('INTERNAL', undefined, new Error('INBOX rename is done by moving messages'));
    const src = this.pathOf(from);
    const dst = this.pathOf(to);
    const all = await this.listMailboxes();
    const moving = all.filter((e) => e.name === from || e.name.startsWith(from + MBOX_SEPARATOR));
    if (!moving.some((e) => e.name === from)) throw new StorageError('NOTFOUND');
    if (await pathExists(dst)) throw new StorageError('EXISTS');
    const pairs: Array<[string, string]> = moving.map((e) => [e.name, to + e.name.slice(from.length)]);
    try {
      let dir = dirname(dst);
      while (dir.startsWith(this.root) && dir !== this.root) {
        if (await this.isFile(dir)) throw new StorageError('BADNAME', "Mailbox doesn't allow inferior mailboxes");
        dir = dirname(dir);
      }
      for (const [oldName] of pairs) await this.closeStore(oldName);
      await mkdir(dirname(dst), { recursive: true, mode: 0o700 });
      await rename(src, dst);
      for (const [oldName] of pairs) await forgetSharedMbox(this.pathOf(oldName));
      // Dovecot's index directory follows the mailbox, so that Dovecot keeps its view of it.
      await rename(this.indexDirOf(from), this.indexDirOf(to)).catch(() => undefined);
      if (this.fsync) {
        await fsyncDir(dirname(dst));
        if (dirname(src) !== dirname(dst)) await fsyncDir(dirname(src));
      }
    } catch (err) {
      throw toStorageError(err);
    }
    return pairs;
  }

  mailboxStore(name: string): MailboxStore {
    let store = this.stores.get(name);
    if (!store) {
      store = new MboxMailboxStore(name, this.pathOf(name), { fsync: this.fsync, lock: this.lockOptions, fromSender: this.fromSender });
      this.stores.set(name, store);
    }
    return store;
  }

  private async closeStore(name: string): Promise<void> {
    const store = this.stores.get(name);
    if (!store) return;
    this.stores.delete(name);
    await store.close();
  }

  async close(): Promise<void> {
    const stores = [...this.stores.values()];
    this.stores.clear();
    for (const s of stores) await s.close();
  }
}

/** Builds the mbox backend for a parsed mail location (mbox:<root>[:INBOX=<file>]), creating the root when missing. */
export async function createMboxUserBackend(opts: MboxUserOptions): Promise<MboxUserBackend> {
  try {
    const st = await stat(opts.root).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!st) await mkdir(opts.root, { recursive: true, mode: 0o700 });
    else if (!st.isDirectory()) throw new StorageError('INTERNAL', undefined, new Error(`${opts.root} is not a directory`));
    if (opts.inboxPath) await mkdir(dirname(opts.inboxPath), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw toStorageError(err);
  }
  return new MboxUserBackend(opts);
}
