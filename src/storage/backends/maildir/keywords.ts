// The dovecot-keywords file: "<index> <keyword>" per line, index 0-25 mapping to Maildir flag letters a-z
// (Dovecot maildir-keywords.c). Read leniently, written via temp file + rename.

export const MAX_MAILDIR_KEYWORDS = 26;

export function parseKeywordsFile(text: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+) (.+)$/.exec(line);
    if (!m) continue;
    const idx = Number(m[1]);
    if (idx >= MAX_MAILDIR_KEYWORDS || idx < 0) continue;
    map.set(idx, m[2]!);
  }
  return map;
}

export function formatKeywordsFile(map: ReadonlyMap<number, string>): string {
  return [...map.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([i, k]) => `${i} ${k}\n`)
    .join('');
}

/** The first free index, or -1 when all 26 letters are taken. */
export function freeKeywordIndex(map: ReadonlyMap<number, string>): number {
  for (let i = 0; i < MAX_MAILDIR_KEYWORDS; i++) if (!map.has(i)) return i;
  return -1;
}
