// Dovecot passwd-file format (user:password:uid:gid:gecos:home:shell:extra_fields): a reader that
// re-reads when the file changes (inode/size/mtime checked on each lookup) and an atomic line-preserving writer.
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseExtraFields } from './types.js';
import { getLogger } from '../lib/logger.js';

const log = getLogger({ component: 'passwd-file' });

export interface PasswdEntry {
  user: string;
  password: string;
  uid?: number;
  gid?: number;
  gecos: string;
  home: string;
  shell: string;
  /** Extra fields as written (userdb_* included), e.g. { nologin: '', userdb_mail: 'maildir:~/M' }. */
  extra: Record<string, string>;
  /** 1-based line number, for messages. */
  line: number;
}

/** Parses one line; undefined for comments, blank lines and lines without a user name. */
export function parsePasswdLine(text: string, line = 0): PasswdEntry | undefined {
  if (!text.trim() || text.trimStart().startsWith('#')) return undefined;
  const fields = text.split(':');
  const user = fields[0];
  if (!user) return undefined;
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  return {
    user,
    password: fields[1] ?? '',
    uid: num(fields[2]),
    gid: num(fields[3]),
    gecos: fields[4] ?? '',
    home: fields[5] ?? '',
    shell: fields[6] ?? '',
    extra: parseExtraFields(fields.slice(7).join(':')),
    line,
  };
}

export function formatPasswdLine(e: Omit<PasswdEntry, 'line'>): string {
  const extra = Object.entries(e.extra)
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    .join(' ');
  return [e.user, e.password, e.uid ?? '', e.gid ?? '', e.gecos, e.home, e.shell, extra].join(':').replace(/:+$/, '');
}

interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** A passwd-file kept in memory and re-read whenever its inode, size or times change. */
export class PasswdFile {
  private identity: FileIdentity | null | undefined;
  private byUser = new Map<string, PasswdEntry>();
  private loading: Promise<void> | undefined;
  private readonly listeners: (() => void)[] = [];

  constructor(readonly path: string) {}

  /** Registers a callback run after the file was re-read with different content. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private async reload(): Promise<void> {
    let current: FileIdentity | null;
    try {
      // A direct stat (as Dovecot's passwd-file stats at every lookup): a thread-pool round trip per login was a
      // third of the auth service's time.
      const st = statSync(this.path);
      current = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      current = null;
    }
    const prev = this.identity;
    const same =
      prev !== undefined &&
      (prev === null ? current === null : current !== null && prev.ino === current.ino && prev.size === current.size && prev.mtimeMs === current.mtimeMs && prev.ctimeMs === current.ctimeMs);
    if (same) return;
    const map = new Map<string, PasswdEntry>();
    if (current) {
      const text = await readFile(this.path, 'utf8');
      text.split('\n').forEach((raw, i) => {
        const entry = parsePasswdLine(raw.replace(/\r$/, ''), i + 1);
        if (!entry) return;
        const key = entry.user.toLowerCase();
        if (map.has(key)) log.warn({ file: this.path, line: i + 1, user: entry.user }, 'duplicate passwd-file user; the first line wins');
        else map.set(key, entry);
      });
    } else if (prev !== null) {
      log.warn({ file: this.path }, 'passwd-file does not exist; no users');
    }
    this.byUser = map;
    const wasLoaded = prev !== undefined;
    this.identity = current;
    if (wasLoaded) {
      log.info({ file: this.path, users: map.size }, 'passwd-file changed; re-read');
      for (const l of this.listeners) l();
    }
  }

  private async ensureFresh(): Promise<void> {
    // One stat (and at most one re-read) at a time; concurrent lookups share it.
    if (!this.loading) {
      this.loading = this.reload().finally(() => {
        this.loading = undefined;
      });
    }
    await this.loading;
  }

  /** Re-reads the file if it changed since the last look. */
  async refresh(): Promise<void> {
    await this.ensureFresh();
  }

  /** The entry for a user name (case-insensitive), read fresh if the file changed. */
  async find(user: string): Promise<PasswdEntry | undefined> {
    await this.ensureFresh();
    return this.byUser.get(user.toLowerCase());
  }

  async entries(): Promise<PasswdEntry[]> {
    await this.ensureFresh();
    return [...this.byUser.values()];
  }
}

// ---------------------------------------------------------------- writing

/** Serialises rewrites within this process. */
let writeChain: Promise<unknown> = Promise.resolve();

/**
 * Rewrites the file through `edit` (which gets and returns all lines), atomically: write a temp file
 * beside it, fsync, rename over, fsync the directory. Comments and unrelated lines are kept as they are.
 */
export function rewritePasswdFile(path: string, edit: (lines: string[]) => string[]): Promise<void> {
  const job = writeChain.then(async () => {
    let text = '';
    let mode = 0o600;
    try {
      text = await readFile(path, 'utf8');
      mode = (await stat(path)).mode & 0o7777;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
    const out = edit(lines);
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(out.length ? out.join('\n') + '\n' : '');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  });
  writeChain = job.catch(() => undefined);
  return job;
}

function lineUser(line: string): string | undefined {
  return parsePasswdLine(line)?.user;
}

export class PasswdFileError extends Error {}

/** Adds a user line; throws PasswdFileError when the user exists. */
export async function addPasswdUser(path: string, entry: Omit<PasswdEntry, 'line' | 'gecos' | 'shell' | 'home'> & Partial<Pick<PasswdEntry, 'gecos' | 'shell' | 'home'>>): Promise<void> {
  if (!/^[^:\s#][^:\s]*$/.test(entry.user)) throw new PasswdFileError(`invalid user name "${entry.user}"`);
  await rewritePasswdFile(path, (lines) => {
    if (lines.some((l) => lineUser(l)?.toLowerCase() === entry.user.toLowerCase())) throw new PasswdFileError(`user ${entry.user} already exists`);
    return [...lines, formatPasswdLine({ gecos: '', shell: '', home: '', ...entry })];
  });
}

/** Removes a user's line; false when there was none. */
export async function deletePasswdUser(path: string, user: string): Promise<boolean> {
  let found = false;
  await rewritePasswdFile(path, (lines) =>
    lines.filter((l) => {
      const match = lineUser(l)?.toLowerCase() === user.toLowerCase();
      if (match) found = true;
      return !match;
    }),
  );
  return found;
}

/** Replaces a user's password field (a {SCHEME}hash), keeping every other field; false when absent. */
export async function setPasswdPassword(path: string, user: string, passwordField: string): Promise<boolean> {
  if (passwordField.includes(':') || passwordField.includes('\n')) throw new PasswdFileError('password field must not contain ":" or a newline');
  let found = false;
  await rewritePasswdFile(path, (lines) =>
    lines.map((l) => {
      if (lineUser(l)?.toLowerCase() !== user.toLowerCase()) return l;
      found = true;
      const fields = l.split(':');
      fields[1] = passwordField;
      return fields.join(':');
    }),
  );
  return found;
}
