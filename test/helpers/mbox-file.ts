// Test helper: reads an mbox file independently of Roost's parser (messages start at "From " lines at the file start or
// after an empty line; RFC 4155 mboxrd layout) and decodes the Dovecot metadata headers (X-UID, X-IMAPbase, Status, X-Status, X-Keywords).
import assert from 'node:assert/strict';

export interface MboxFileMessage {
  /** the From_ line without its LF */
  fromLine: string;
  /** header lines as in the file (LF ends), unfolded values by lower-case name */
  headerText: string;
  headers: Map<string, string[]>;
  /** the body without the separator LF */
  body: string;
  uid?: number;
  messageId?: string;
  contentLength?: number;
  imapBase?: { uidValidity: number; lastUid: number; keywords: string[] };
  /** the folder-data pseudo message (X-IMAP) */
  pseudo: boolean;
  /** \Seen \Answered \Flagged \Draft \Deleted and keywords, sorted */
  flags: string[];
}

function header(m: Map<string, string[]>, name: string): string | undefined {
  return m.get(name)?.[0];
}

/** Splits and decodes the file; asserts its framing (starts with a From_ line, every message ends with the separator LF). */
export function readMboxFile(text: string, what = 'mbox'): MboxFileMessage[] {
  if (text.length === 0) return [];
  assert.ok(text.startsWith('From '), `${what}: starts with a From_ line`);
  const starts = [0];
  for (let i = text.indexOf('\n\nFrom '); i >= 0; i = text.indexOf('\n\nFrom ', i + 1)) starts.push(i + 2);
  const out: MboxFileMessage[] = [];
  for (const [n, start] of starts.entries()) {
    const end = starts[n + 1] ?? text.length;
    const raw = text.slice(start, end);
    assert.ok(raw.endsWith('\n\n'), `${what}: message ${n + 1} ends with its separator`);
    const fromEnd = raw.indexOf('\n');
    const fromLine = raw.slice(0, fromEnd);
    const eoh = raw.indexOf('\n\n', fromEnd);
    assert.ok(eoh >= fromEnd, `${what}: message ${n + 1} has a header end`);
    const headerText = raw.slice(fromEnd + 1, eoh + 1);
    const body = raw.slice(eoh + 2, raw.length - 1);
    const headers = new Map<string, string[]>();
    let last: [string, string] | undefined;
    const flush = () => {
      if (!last) return;
      const list = headers.get(last[0]) ?? [];
      list.push(last[1]);
      headers.set(last[0], list);
    };
    for (const line of headerText.split('\n').slice(0, -1)) {
      if (/^[ \t]/.test(line) && last) {
        last[1] += ' ' + line.trim();
        continue;
      }
      flush();
      const colon = line.indexOf(':');
      assert.ok(colon > 0, `${what}: message ${n + 1}: a header line "${line.slice(0, 60)}"`);
      last = [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    }
    flush();
    const flags: string[] = [];
    const status = header(headers, 'status') ?? '';
    const xStatus = header(headers, 'x-status') ?? '';
    if (status.includes('R')) flags.push('\\Seen');
    for (const [c, f] of [
      ['A', '\\Answered'],
      ['F', '\\Flagged'],
      ['T', '\\Draft'],
      ['D', '\\Deleted'],
    ] as const) {
      if (xStatus.includes(c)) flags.push(f);
    }
    for (const k of (header(headers, 'x-keywords') ?? '').split(/\s+/)) if (k) flags.push(k);
    const baseText = header(headers, 'x-imapbase') ?? header(headers, 'x-imap');
    const baseParts = baseText?.split(/\s+/);
    const uidText = header(headers, 'x-uid');
    const lengthText = header(headers, 'content-length');
    out.push({
      fromLine,
      headerText,
      headers,
      body,
      uid: uidText !== undefined ? Number(uidText) : undefined,
      messageId: /<([^>]+)>/.exec(header(headers, 'message-id') ?? '')?.[1],
      contentLength: lengthText !== undefined ? Number(lengthText) : undefined,
      imapBase: baseParts && baseParts.length >= 2 ? { uidValidity: Number(baseParts[0]), lastUid: Number(baseParts[1]), keywords: baseParts.slice(2) } : undefined,
      pseudo: headers.has('x-imap'),
      flags: flags.sort(),
    });
  }
  return out;
}
