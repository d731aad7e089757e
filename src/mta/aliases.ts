// The aliases file in /etc/aliases format (aliases(5)): "name: target, target", continuation lines,
// comments, :include:, /dev/null, |command and /file; compiled to LMDB by `roost newaliases`.
import { readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';

export interface AliasEntry {
  name: string;
  targets: string[];
  line: number;
}

/** Splits a target list on commas outside double quotes. */
export function splitTargets(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      if (current.trim()) out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out.map((t) => (t.startsWith('"') && t.endsWith('"') && t.length > 1 ? t.slice(1, -1) : t));
}

/** Parses aliases text; throws with the line number on a line that is not "name: targets". */
export function parseAliases(text: string): AliasEntry[] {
  const entries: AliasEntry[] = [];
  const lines = text.split(/\r?\n/);
  let current: { name: string; value: string; line: number } | undefined;
  const flush = () => {
    if (current) entries.push({ name: current.name, targets: splitTargets(current.value), line: current.line });
    current = undefined;
  };
  lines.forEach((raw, i) => {
    if (/^\s*#/.test(raw) || raw.trim() === '') return;
    if (/^[ \t]/.test(raw)) {
      if (!current) throw new Error(`line ${i + 1}: continuation line without an alias`);
      current.value += ' ' + raw.trim();
      return;
    }
    flush();
    const m = /^("?[^:"]+"?)\s*:\s*(.*)$/.exec(raw);
    if (!m) throw new Error(`line ${i + 1}: expected "name: target, ..."`);
    current = { name: m[1].replace(/^"|"$/g, '').trim().toLowerCase(), value: m[2], line: i + 1 };
  });
  flush();
  return entries;
}

export function aliasDbPath(aliasesFile: string): string {
  return aliasesFile + '.lmdb';
}

/** `roost newaliases`: compiles the aliases file into <file>.lmdb in one transaction; returns the entry count. */
export function compileAliases(aliasesFile: string): number {
  const entries = existsSync(aliasesFile) ? parseAliases(readFileSync(aliasesFile, 'utf8')) : [];
  const db = open<string[], string>({ path: aliasDbPath(aliasesFile), compression: false });
  try {
    db.transactionSync(() => {
      for (const key of db.getKeys()) db.removeSync(key);
      for (const e of entries) db.putSync(e.name, e.targets);
      db.putSync('\u0000compiled', [String(Date.now())]);
    });
  } finally {
    db.close();
  }
  return entries.length;
}

/** Reads compiled aliases; :include: files are read at lookup time, as Postfix's local(8) does. */
export class AliasDatabase {
  private db: RootDatabase<string[], string> | undefined;

  constructor(private readonly aliasesFile: string) {}

  private handle(): RootDatabase<string[], string> | undefined {
    if (this.db) return this.db;
    const path = aliasDbPath(this.aliasesFile);
    if (!existsSync(path)) return undefined;
    this.db = open<string[], string>({ path, compression: false, readOnly: true });
    return this.db;
  }

  /** Whether the text file changed after the last `roost newaliases`. */
  isStale(): boolean {
    if (!existsSync(this.aliasesFile)) return false;
    const compiled = this.handle()?.get('\u0000compiled')?.[0];
    return !compiled || statSync(this.aliasesFile).mtimeMs > Number(compiled);
  }

  lookup(name: string): string[] | undefined {
    return this.handle()?.get(name.toLowerCase());
  }

  /** Targets of an :include: file (one or more per line, comments allowed). */
  readInclude(target: string): string[] {
    const file = target.slice(':include:'.length).trim();
    const path = isAbsolute(file) ? file : join(dirname(this.aliasesFile), file);
    const out: string[] = [];
    for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
      if (/^\s*#/.test(line) || !line.trim()) continue;
      out.push(...splitTargets(line));
    }
    return out;
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }
}
