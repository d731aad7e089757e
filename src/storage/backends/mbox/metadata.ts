// Dovecot's mbox metadata headers (mbox-save.c, mbox-sync-parse.c): X-IMAPbase / X-IMAP (pseudo message), X-UID,
// Status (R = \Seen, O = not \Recent), X-Status (A F T D), X-Keywords with space padding, Content-Length; hidden from clients.
import { formatFromLine } from './from-line.js';

/** Headers Dovecot hides from IMAP clients (mbox_hide_headers) and drops from messages being saved. */
export const HIDDEN_HEADERS = new Set(['content-length', 'status', 'x-imap', 'x-imapbase', 'x-keywords', 'x-status', 'x-uid']);
/** Dropped on save besides the hidden ones (mbox_save_drop_headers). */
export const SAVE_DROP_HEADERS = new Set([...HIDDEN_HEADERS, 'x-delivery-id']);

/** Total spaces Dovecot pads X-Keywords with before writing "\nContent-Length: N" over its tail (MBOX_HEADER_PADDING+1 + 17 + MAX_INT_STRLEN). */
export const SAVE_PADDING = 91;

const STATUS_FLAGS: Array<[string, string]> = [['R', '\\Seen']];
const XSTATUS_FLAGS: Array<[string, string]> = [
  ['A', '\\Answered'],
  ['F', '\\Flagged'],
  ['T', '\\Draft'],
  ['D', '\\Deleted'],
];

export interface ImapBase {
  uidValidity: number;
  lastUid: number;
  keywords: string[];
}

/** The metadata a message's hidden headers carry. */
export interface MessageMetadata {
  uid?: number;
  /** X-IMAPbase in the first message */
  imapBase?: ImapBase;
  /** X-IMAP: marks the UW-IMAP / Dovecot pseudo message that only holds folder data */
  pseudoBase?: ImapBase;
  systemFlags: string[];
  keywords: string[];
  /** 'O' in Status: some session has seen the message (it is no longer \Recent) */
  notRecent: boolean;
  contentLength?: number;
  hasStatus: boolean;
  hasXKeywords: boolean;
}

export function emptyMetadata(): MessageMetadata {
  return { systemFlags: [], keywords: [], notRecent: false, hasStatus: false, hasXKeywords: false };
}

function parseBase(value: string): ImapBase | undefined {
  const parts = value.trim().split(/[ \t]+/);
  if (parts.length < 2 || !/^\d+$/.test(parts[0]!) || !/^\d+$/.test(parts[1]!)) return undefined;
  const uidValidity = Number(parts[0]);
  const lastUid = Number(parts[1]);
  if (uidValidity <= 0 || uidValidity > 0xffffffff || lastUid > 0xffffffff) return undefined;
  return { uidValidity, lastUid, keywords: parts.slice(2).filter((k) => k.length > 0) };
}

/** Folds one hidden header (name lower-cased, raw unfolded value) into the metadata. */
export function applyHiddenHeader(meta: MessageMetadata, name: string, value: string, isFirstMessage: boolean): void {
  switch (name) {
    case 'x-uid': {
      const v = value.trim();
      if (/^\d+$/.test(v) && Number(v) > 0 && Number(v) <= 0xffffffff) meta.uid = Number(v);
      break;
    }
    case 'x-imapbase':
      if (isFirstMessage) meta.imapBase = parseBase(value);
      break;
    case 'x-imap':
      if (isFirstMessage) meta.pseudoBase = parseBase(value);
      break;
    case 'status':
      meta.hasStatus = true;
      for (const [ch, flag] of STATUS_FLAGS) if (value.includes(ch) && !meta.systemFlags.includes(flag)) meta.systemFlags.push(flag);
      if (value.includes('O')) meta.notRecent = true;
      break;
    case 'x-status':
      for (const [ch, flag] of XSTATUS_FLAGS) if (value.includes(ch) && !meta.systemFlags.includes(flag)) meta.systemFlags.push(flag);
      break;
    case 'x-keywords':
      meta.hasXKeywords = true;
      for (const kw of value.trim().split(/[ \t]+/)) if (kw && !meta.keywords.some((k) => k.toLowerCase() === kw.toLowerCase())) meta.keywords.push(kw);
      break;
    case 'content-length': {
      const v = value.trim();
      if (/^\d+$/.test(v)) meta.contentLength = Number(v);
      break;
    }
  }
}

export interface MetadataToWrite {
  imapBase?: ImapBase;
  uid: number;
  flags: readonly string[];
  notRecent: boolean;
  contentLength: number;
}

export function formatBase(base: ImapBase): string {
  return `${base.uidValidity} ${String(base.lastUid).padStart(10, '0')}${base.keywords.map((k) => ' ' + k).join('')}`;
}

/**
 * The metadata headers in the order Dovecot's save writes them: [X-IMAPbase], X-UID, Status, [X-Status],
 * X-Keywords padded with `padding` spaces, Content-Length. `padding` undefined means Dovecot's save padding.
 */
export function formatMetadataHeaders(m: MetadataToWrite, padding?: number): string {
  let out = '';
  if (m.imapBase) out += `X-IMAPbase: ${formatBase(m.imapBase)}\n`;
  out += `X-UID: ${m.uid}\n`;
  out += 'Status: ' + STATUS_FLAGS.filter(([, f]) => m.flags.includes(f)).map(([c]) => c).join('') + (m.notRecent ? 'O' : '') + '\n';
  const x = XSTATUS_FLAGS.filter(([, f]) => m.flags.includes(f)).map(([c]) => c).join('');
  if (x) out += `X-Status: ${x}\n`;
  const keywords = m.flags.filter((f) => !f.startsWith('\\'));
  const contentLength = `\nContent-Length: ${m.contentLength}`;
  // Dovecot saves X-IMAPbase without keywords and adds them at the sync right after, out of the X-Keywords padding.
  const baseKeywords = m.imapBase ? m.imapBase.keywords.reduce((n, k) => n + 1 + k.length, 0) : 0;
  const pad = padding ?? Math.max(0, SAVE_PADDING - contentLength.length - baseKeywords);
  out += 'X-Keywords:' + keywords.map((k) => ' ' + k).join('') + ' '.repeat(pad) + contentLength + '\n';
  return out;
}

/** The pseudo message Dovecot writes when a folder holds no mail (mbox-sync.c mbox_write_pseudo()), "From_" line included. */
export function formatPseudoMessage(base: ImapBase, now: Date, host: string): string {
  const rfcDate = formatRfc2822(now);
  return (
    formatFromLine('MAILER_DAEMON', now) +
    `Date: ${rfcDate}\n` +
    `From: Mail System Internal Data <MAILER-DAEMON@${host}>\n` +
    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n" +
    `Message-ID: <${Math.floor(now.getTime() / 1000)}@${host}>\n` +
    `X-IMAP: ${formatBase(base)}\n` +
    'Status: RO\n' +
    '\n' +
    'This text is part of the internal format of your mail folder, and is not\n' +
    'a real message.  It is created automatically by the mail system software.\n' +
    'If deleted, important folder data will be lost, and it will be re-created\n' +
    'with the data reset to initial values.\n' +
    '\n'
  );
}


function formatRfc2822(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]}, ${p(d.getDate())} ${months[d.getMonth()]} ${d.getFullYear()} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(abs / 60))}${p(abs % 60)}`;
}
