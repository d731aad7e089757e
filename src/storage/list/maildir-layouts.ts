// Folder layouts for Maildir stores, kept apart from the message format as in Dovecot's lib-storage/list:
// Maildir++ (".Folder.Sub" directories under the INBOX root, separator '.') and LAYOUT=fs ("Folder/Sub", separator '/').
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { MailboxListEntry } from '../backends/backend.js';
import { decodeMutf7, encodeMutf7, validateMailboxName } from './names.js';

export interface MaildirLayout {
  readonly kind: 'maildir++' | 'fs';
  readonly separator: string;
  /** The directory of a mailbox (not INBOX) below the root. */
  mailboxDir(root: string, name: string): string;
  /** Every mailbox directory below the root (INBOX not included), with parents that exist only as hierarchy. */
  list(root: string): Promise<MailboxListEntry[]>;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Adds missing parents ("A" for "A.B") as non-selectable entries, sorted by name. */
function withParents(entries: MailboxListEntry[], separator: string): MailboxListEntry[] {
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const e of entries) {
    const parts = e.name.split(separator);
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join(separator);
      if (!byName.has(parent)) byName.set(parent, { name: parent, selectable: false });
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export const maildirPlusPlusLayout: MaildirLayout = {
  kind: 'maildir++',
  separator: '.',
  mailboxDir(root, name) {
    const parts = validateMailboxName(name, '.', { fsLayout: false });
    return join(root, '.' + parts.map(encodeMutf7).join('.'));
  },
  async list(root) {
    let names: string[];
    try {
      names = await readdir(root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: MailboxListEntry[] = [];
    for (const dirName of names) {
      if (!dirName.startsWith('.') || dirName === '.' || dirName === '..') continue;
      let name: string;
      try {
        name = dirName
          .slice(1)
          .split('.')
          .map((p) => decodeMutf7(p))
          .join('.');
        validateMailboxName(name, '.', { fsLayout: false });
      } catch {
        continue; // not a mailbox (e.g. "..DOVECOT-TRASHED" or a name Roost would refuse)
      }
      if (!(await isDir(join(root, dirName)))) continue;
      if (name.toUpperCase() === 'INBOX') continue;
      entries.push({ name, selectable: await isDir(join(root, dirName, 'cur')) });
    }
    return withParents(entries, '.');
  },
};

export const fsLayout: MaildirLayout = {
  kind: 'fs',
  separator: '/',
  mailboxDir(root, name) {
    const parts = validateMailboxName(name, '/', { fsLayout: true });
    return join(root, ...parts.map(encodeMutf7));
  },
  async list(root) {
    const entries: MailboxListEntry[] = [];
    const walk = async (dir: string, prefix: string[], depth: number): Promise<void> => {
      if (depth > 16) return;
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return;
      }
      for (const dirName of names) {
        if (dirName.startsWith('.') || ['cur', 'new', 'tmp'].includes(dirName)) continue;
        const path = join(dir, dirName);
        if (!(await isDir(path))) continue;
        let component: string;
        try {
          component = decodeMutf7(dirName);
        } catch {
          continue;
        }
        const parts = [...prefix, component];
        const name = parts.join('/');
        try {
          validateMailboxName(name, '/', { fsLayout: true });
        } catch {
          continue;
        }
        if (name.toUpperCase() !== 'INBOX') entries.push({ name, selectable: await isDir(join(path, 'cur')) });
        await walk(path, parts, depth + 1);
      }
    };
    await walk(root, [], 0);
    return withParents(entries, '/');
  },
};
