// IMAP system flags and keywords as the storage layer keeps them (RFC 9051 2.3.2), and the checks that a
// flag or keyword name is acceptable. \Recent is never stored: it is per-session state (RFC 3501 2.3.2).
import { StorageError } from '../errors.js';

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;
export type SystemFlag = (typeof SYSTEM_FLAGS)[number];

const SYSTEM_BY_LOWER = new Map<string, SystemFlag>(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** atom-specials of RFC 9051 plus the characters that may not appear in a keyword. */
const KEYWORD_FORBIDDEN = /[\x00-\x20\x7f-\uffff(){%*"\\\]]/;

export function isSystemFlag(flag: string): boolean {
  return SYSTEM_BY_LOWER.has(flag.toLowerCase());
}

/**
 * Normalises a list of flags: system flags get their canonical case, keywords are checked (atoms, no '\'),
 * duplicates are removed. \Recent is refused: it cannot be set by a client.
 */
export function normalizeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const raw of flags) {
    let flag: string;
    if (raw.startsWith('\\')) {
      const sys = SYSTEM_BY_LOWER.get(raw.toLowerCase());
      if (!sys) throw new StorageError('BADNAME', `Invalid system flag ${raw.replace(/[^\x21-\x7e]/g, '?')}`);
      flag = sys;
    } else {
      if (raw.length === 0 || raw.length > 200 || KEYWORD_FORBIDDEN.test(raw)) {
        throw new StorageError('BADNAME', 'Invalid keyword');
      }
      flag = raw;
    }
    const key = flag.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(flag);
  }
  return out;
}

/** Applies an add/remove/replace to a flag set (case-insensitive for keywords, as IMAP servers commonly do). */
export function applyFlagChange(current: readonly string[], mode: 'add' | 'remove' | 'replace', change: readonly string[]): string[] {
  if (mode === 'replace') return sortFlags([...change]);
  const lower = new Set(change.map((f) => f.toLowerCase()));
  if (mode === 'remove') return sortFlags(current.filter((f) => !lower.has(f.toLowerCase())));
  const have = new Set(current.map((f) => f.toLowerCase()));
  const out = [...current];
  for (const f of change) if (!have.has(f.toLowerCase())) out.push(f);
  return sortFlags(out);
}

/** System flags first in a fixed order, then keywords in the order given. */
export function sortFlags(flags: string[]): string[] {
  const system = SYSTEM_FLAGS.filter((s) => flags.includes(s));
  const keywords = flags.filter((f) => !f.startsWith('\\'));
  return [...system, ...keywords];
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => set.has(f.toLowerCase()));
}

export function hasFlag(flags: readonly string[], flag: string): boolean {
  const lower = flag.toLowerCase();
  return flags.some((f) => f.toLowerCase() === lower);
}
