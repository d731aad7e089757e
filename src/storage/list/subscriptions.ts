// The subscriptions file as Dovecot 2.3 writes it (subscription-file.c): header "V\t2\n\n", then one mailbox per
// line in modified UTF-7 with hierarchy levels separated by TAB; version 1 files (names with the separator) are read.
import { readFile } from 'node:fs/promises';
import { writeFileDurable } from '../common/fsutil.js';
import { decodeMutf7, encodeMutf7 } from './names.js';

export function parseSubscriptions(text: string, separator: string): string[] {
  const lines = text.split('\n');
  const out: string[] = [];
  let body = lines;
  let v2 = false;
  if (lines[0] === 'V\t2') {
    v2 = true;
    body = lines.slice(1);
  }
  for (const line of body) {
    if (!line) continue;
    try {
      const parts = v2 ? line.split('\t') : line.split(separator);
      out.push(parts.map((p) => decodeMutf7(p)).join(separator));
    } catch {
      // a name Roost cannot represent: left out of the list, kept in no rewrite
    }
  }
  return out;
}

export function formatSubscriptions(names: readonly string[], separator: string): string {
  return 'V\t2\n\n' + names.map((n) => n.split(separator).map(encodeMutf7).join('\t') + '\n').join('');
}

export async function readSubscriptions(path: string, separator: string): Promise<string[]> {
  try {
    return parseSubscriptions(await readFile(path, 'utf8'), separator);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function writeSubscriptions(path: string, names: readonly string[], separator: string, fsync: boolean): Promise<void> {
  await writeFileDurable(path, formatSubscriptions(names, separator), { fsync });
}
