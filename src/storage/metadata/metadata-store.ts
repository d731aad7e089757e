// Per-user METADATA (RFC 5464 sections 3 and 4): server and mailbox annotations kept in one JSON file beside the
// store (DECISIONS.md: what the store cannot hold lives in files beside it), rewritten durably (temp file, fsync,
// rename, fsync of the directory) under a per-file lock, with limits on value size and entry count.
import { readFile } from 'node:fs/promises';
import { StorageError } from '../errors.js';
import { KeyedMutex, writeFileDurable } from '../common/fsutil.js';

/** The file in the user's control directory (the Maildir root, or the mbox root). */
export const METADATA_FILE = 'roost-metadata.json';

/** Largest value one entry may hold (RFC 5464 section 4.3: [METADATA MAXSIZE n]). */
export const METADATA_MAX_VALUE_SIZE = 64 * 1024;
/** Most entries one mailbox (or the server) may hold (RFC 5464 section 4.3: [METADATA TOOMANY]). */
export const METADATA_MAX_ENTRIES = 256;

/** The server's own annotations use the empty mailbox name (RFC 5464 section 3.2). */
export const SERVER_SCOPE = '';

interface FileShape {
  version: 1;
  /** Mailbox name ('' = server) -> lower-cased entry name -> value in base64. */
  scopes: Record<string, Record<string, string>>;
}

export class MetadataLimitError extends StorageError {
  constructor(
    readonly limit: 'MAXSIZE' | 'TOOMANY',
    readonly maxSize?: number,
  ) {
    super('LIMIT', limit === 'MAXSIZE' ? 'Metadata value too large' : 'Too many metadata entries');
  }
}

/** Sessions of one user in this process take turns at the file (each call reads and writes it whole). */
const fileLocks = new KeyedMutex();

/** One user's annotations. Each call reads the file again, so sessions in this process and others agree. */
export class MetadataStore {
  constructor(private readonly path: string) {}

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    return fileLocks.run(this.path, fn);
  }

  private async load(): Promise<FileShape> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, scopes: {} };
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as FileShape;
      if (parsed.version === 1 && parsed.scopes && typeof parsed.scopes === 'object') return parsed;
    } catch {
      // fall through
    }
    throw new StorageError('CORRUPTED', `${METADATA_FILE} cannot be read`);
  }

  private async save(data: FileShape): Promise<void> {
    for (const [scope, entries] of Object.entries(data.scopes)) if (Object.keys(entries).length === 0) delete data.scopes[scope];
    // Always durable: a client that was told OK must find its annotation after a crash.
    await writeFileDurable(this.path, JSON.stringify(data) + '\n', { fsync: true, mode: 0o600 });
  }

  /** Every entry of a scope, names lower-cased, in name order. */
  async entries(scope: string): Promise<Map<string, Buffer>> {
    return this.withLock(async () => {
      const data = await this.load();
      const entries = data.scopes[scope] ?? {};
      return new Map(
        Object.keys(entries)
          .sort()
          .map((name) => [name, Buffer.from(entries[name]!, 'base64')]),
      );
    });
  }

  /** Sets (Buffer) or removes (null) entries of a scope, all or nothing; names must already be lower-cased. */
  async set(scope: string, changes: ReadonlyArray<readonly [string, Buffer | null]>): Promise<void> {
    for (const [, value] of changes) {
      if (value && value.length > METADATA_MAX_VALUE_SIZE) throw new MetadataLimitError('MAXSIZE', METADATA_MAX_VALUE_SIZE);
    }
    await this.withLock(async () => {
      const data = await this.load();
      const entries = { ...(data.scopes[scope] ?? {}) };
      for (const [name, value] of changes) {
        if (value === null) delete entries[name];
        else entries[name] = value.toString('base64');
      }
      if (Object.keys(entries).length > METADATA_MAX_ENTRIES) throw new MetadataLimitError('TOOMANY');
      data.scopes[scope] = entries;
      await this.save(data);
    });
  }

  /** A mailbox was deleted: its annotations go with it (RFC 5464 section 3.2). */
  async dropMailbox(name: string): Promise<void> {
    await this.withLock(async () => {
      const data = await this.load();
      if (!data.scopes[name]) return;
      delete data.scopes[name];
      await this.save(data);
    });
  }

  /** Mailboxes were renamed (with their children): their annotations follow them. */
  async renameMailboxes(pairs: ReadonlyArray<readonly [string, string]>): Promise<void> {
    await this.withLock(async () => {
      const data = await this.load();
      let changed = false;
      const moved = new Map<string, Record<string, string>>();
      for (const [from, to] of pairs) {
        const entries = data.scopes[from];
        if (!entries) continue;
        delete data.scopes[from];
        moved.set(to, entries);
        changed = true;
      }
      for (const [to, entries] of moved) data.scopes[to] = entries;
      if (changed) await this.save(data);
    });
  }
}
