// Benchmark corpus: N realistic messages reproducible from a seed (RFC 5322 headers, RFC 2045/2046 multipart/alternative and
// attachments, RFC 2047 encoded words, threads via In-Reply-To/References, several charsets), written as Maildir and mbox (mboxrd).
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statfsSync, writeFileSync, copyFileSync, appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import iconv from 'iconv-lite';
import libqp from 'libqp';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_CACHE_DIR = join(REPO_ROOT, 'bench', 'cache');
/** Bump when the generator changes, so cached corpora are regenerated. */
const GENERATOR_VERSION = 1;

export interface CorpusMessage {
  /** file name in the Maildir's cur/ (with ,S= and ,W= sizes and :2, flags) */
  name: string;
  /** bytes with LF line ends, as stored */
  size: number;
}

export interface Corpus {
  seed: number;
  count: number;
  dir: string;
  /** a Maildir (cur/ new/ tmp/) holding every message */
  maildir: string;
  /** one mbox file (mboxrd escaping) holding every message */
  mbox: string;
  messages: CorpusMessage[];
  totalBytes: number;
}

/** A small, fast, seedable PRNG (mulberry32): the same seed always gives the same corpus. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** standard normal (Box-Muller) */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = (this.next() * 4294967296) >>> 0;
      out[i] = v & 0xff;
      if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = (v >>> 24) & 0xff;
    }
    return out;
  }
}

interface Language {
  charsets: string[];
  words: string[];
  names: string[];
}

const LANGUAGES: Language[] = [
  {
    charsets: ['us-ascii', 'utf-8'],
    words: 'the report meeting schedule budget server mailbox project review please attached draft quarter team release notes update question thanks regards tomorrow invoice customer delivery agenda minutes'.split(' '),
    names: ['Alice Walker', 'Bob Stone', 'Carol Hughes', 'Dave Miller', 'Erin Price'],
  },
  {
    charsets: ['iso-8859-1', 'utf-8'],
    words: 'Grüße Bericht Besprechung Übersicht Änderung Straße Mädchen fröhlich schön Käse Lösung Größe Tür über Anhang Rückmeldung Termin nächste Woche'.split(' '),
    names: ['Jürgen Müller', 'Käthe Schäfer', 'Sören Weiß'],
  },
  {
    charsets: ['koi8-r', 'windows-1251', 'utf-8'],
    words: 'привет отчёт встреча сервер почта проект вложение пожалуйста спасибо завтра неделя бюджет вопрос ответ'.split(' '),
    names: ['Иван Петров', 'Мария Смирнова', 'Олег Кузнецов'],
  },
  {
    charsets: ['shift_jis', 'euc-jp', 'utf-8'],
    words: '会議 報告 予定 添付 確認 お願い します 来週 資料 サーバー メール 返信 ありがとう 件名'.split(' '),
    names: ['山田 太郎', '佐藤 花子', '鈴木 一郎'],
  },
  {
    charsets: ['iso-8859-2', 'utf-8'],
    words: 'dzień dobry spotkanie załącznik sprawozdanie żółw łódź źródło proszę dziękuję jutro tydzień'.split(' '),
    names: ['Łukasz Żak', 'Zofia Wójcik'],
  },
];

const ATTACHMENTS = [
  { type: 'application/pdf', ext: 'pdf' },
  { type: 'image/png', ext: 'png' },
  { type: 'image/jpeg', ext: 'jpg' },
  { type: 'application/zip', ext: 'zip' },
  { type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', ext: 'docx' },
];

const BASE_DATE = Date.UTC(2024, 0, 2, 8, 0, 0);
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

function mboxDate(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** An RFC 2047 encoded-word sequence (B encoding) in the given charset, split on characters so no word exceeds 75 chars. */
export function encodeWords(text: string, charset: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  const chars = [...text];
  const words: string[] = [];
  for (let i = 0; i < chars.length; i += 12) {
    const bytes = iconv.encode(chars.slice(i, i + 12).join(''), charset);
    words.push(`=?${charset}?B?${bytes.toString('base64')}?=`);
  }
  return words.join('\r\n ');
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

/** Sizes are drawn first from their own stream, so the free-disk check knows the total before anything is generated. */
export function messageSizes(seed: number, count: number, tailMax = 10 * 1024 * 1024): number[] {
  const rng = new Random(seed ^ 0x51ed270b);
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    if (rng.chance(0.03)) {
      // the tail: log-uniform from 50 KB up to tailMax
      const lo = Math.log(50 * 1024);
      const hi = Math.log(tailMax);
      sizes.push(Math.round(Math.exp(lo + rng.next() * (hi - lo))));
    } else {
      // the body: log-normal around 6 KB, clipped to 1-50 KB
      const size = Math.exp(Math.log(6 * 1024) + 0.9 * rng.normal());
      sizes.push(Math.round(Math.min(50 * 1024, Math.max(1024, size))));
    }
  }
  return sizes;
}

interface ThreadInfo {
  messageId: string;
  subject: string;
  references: string[];
}

function sentence(rng: Random, lang: Language): string {
  const n = rng.int(5, 14);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(rng.pick(lang.words));
  const s = words.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1) + rng.pick(['.', '.', '.', '?', '!']);
}

/** Plain text of about `chars` characters, in lines of at most ~72 characters. */
function paragraphText(rng: Random, lang: Language, chars: number): string {
  const lines: string[] = [];
  let line = '';
  let total = 0;
  while (total < chars) {
    const s = sentence(rng, lang);
    for (const word of s.split(' ')) {
      if (line.length + word.length + 1 > 72) {
        lines.push(line);
        total += line.length + 1;
        line = '';
      }
      line = line ? `${line} ${word}` : word;
    }
    if (rng.chance(0.2)) {
      lines.push(line, '');
      total += line.length + 2;
      line = '';
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

function htmlOf(text: string): string {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const paragraphs = escaped.split('\n\n').map((p) => `<p>${p.replace(/\n/g, ' ')}</p>`);
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n${paragraphs.join('\n')}\n</body></html>`;
}

interface EncodedPart {
  headers: string[];
  body: Buffer;
}

/** A text part in the charset with a fitting transfer encoding (RFC 2045 section 6). */
function textPart(rng: Random, subtype: 'plain' | 'html', text: string, charset: string): EncodedPart {
  const bytes = iconv.encode(text, charset);
  const ascii = isAscii(text);
  let encoding: string;
  let body: Buffer;
  if (ascii) {
    encoding = '7bit';
    body = bytes;
  } else {
    encoding = rng.pick(['quoted-printable', 'quoted-printable', 'base64', '8bit']);
    if (encoding === 'quoted-printable') body = Buffer.from(libqp.wrap(libqp.encode(bytes), 76).replace(/\r\n/g, '\n'));
    else if (encoding === 'base64') body = Buffer.from(wrapBase64(bytes));
    else body = bytes;
  }
  return {
    headers: [`Content-Type: text/${subtype}; charset=${ascii ? 'us-ascii' : charset}`, `Content-Transfer-Encoding: ${encoding}`],
    body,
  };
}

function wrapBase64(bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\n');
}

function multipart(subtype: string, boundary: string, parts: EncodedPart[]): EncodedPart {
  const chunks: Buffer[] = [Buffer.from('This is a multi-part message in MIME format.\n')];
  for (const part of parts) {
    chunks.push(Buffer.from(`\n--${boundary}\n${part.headers.join('\n')}\n\n`), part.body);
  }
  chunks.push(Buffer.from(`\n--${boundary}--\n`));
  return { headers: [`Content-Type: multipart/${subtype};\n boundary="${boundary}"`], body: Buffer.concat(chunks) };
}

/** Generates message `index` of a corpus (LF line ends) of roughly `targetSize` bytes. */
export function generateMessage(seed: number, index: number, targetSize: number, threads: ThreadInfo[] = []): { raw: Buffer; thread: ThreadInfo; flags: string } {
  const rng = new Random((seed * 1_000_003 + index * 7919) >>> 0);
  const lang = rng.chance(0.5) ? LANGUAGES[0]! : rng.pick(LANGUAGES);
  const charset = rng.pick(lang.charsets);
  const headerCharset = charset === 'us-ascii' ? 'utf-8' : charset;
  const fromName = rng.pick(lang.names);
  const toName = rng.pick(LANGUAGES[0]!.names);
  const messageId = `<${seed}.${index}.${rng.int(100000, 999999)}@bench.roost.test>`;

  let subject: string;
  let references: string[] = [];
  let inReplyTo: string | undefined;
  if (threads.length > 0 && rng.chance(0.3)) {
    const parent = rng.pick(threads);
    subject = parent.subject.startsWith('Re: ') ? parent.subject : `Re: ${parent.subject}`;
    references = [...parent.references, parent.messageId].slice(-10);
    inReplyTo = parent.messageId;
  } else {
    subject = `${rng.pick(lang.words)} ${rng.pick(lang.words)} ${rng.pick(lang.words)} #${index}`;
  }
  const thread: ThreadInfo = { messageId, subject, references };
  const date = BASE_DATE + index * 37 * 60_000 + rng.int(0, 600_000);

  const headers = [
    `Return-Path: <sender${index % 17}@example.org>`,
    `Received: from mx${rng.int(1, 9)}.example.org (mx.example.org [192.0.2.${rng.int(1, 254)}])\n\tby bench.roost.test with ESMTPS id ${rng.int(1e8, 9e8).toString(36)}\n\tfor <user@bench.roost.test>; ${rfc5322Date(date + 5000)}`,
    `Date: ${rfc5322Date(date)}`,
    `From: ${encodeWords(fromName, headerCharset).replace(/\r\n/g, '\n')} <sender${index % 17}@example.org>`,
    `To: ${toName} <user@bench.roost.test>`,
    ...(rng.chance(0.3) ? [`Cc: ${rng.pick(LANGUAGES[0]!.names)} <cc${rng.int(1, 5)}@example.org>`] : []),
    `Subject: ${encodeWords(subject, headerCharset).replace(/\r\n/g, '\n')}`,
    `Message-ID: ${messageId}`,
    ...(inReplyTo ? [`In-Reply-To: ${inReplyTo}`, `References: ${references.join('\n ')}`] : []),
    'MIME-Version: 1.0',
    `X-Bench-Seed: ${seed}-${index}`,
  ];

  const headerBytes = headers.join('\n').length + 200;
  const budget = Math.max(200, targetSize - headerBytes);
  const kind = targetSize > 50 * 1024 ? 'attachment' : rng.pick(['plain', 'plain', 'plain', 'alternative', 'alternative', 'attachment', 'mixed-alternative']);
  const boundary = (i: number) => `=_bench_${seed}_${index}_${i}_${rng.int(1e6, 9e6)}`;
  let body: EncodedPart;
  if (kind === 'plain') {
    body = textPart(rng, 'plain', paragraphText(rng, lang, budget * 0.85), charset);
  } else if (kind === 'alternative') {
    const text = paragraphText(rng, lang, budget * 0.35);
    body = multipart('alternative', boundary(1), [textPart(rng, 'plain', text, charset), textPart(rng, 'html', htmlOf(text), 'utf-8')]);
  } else {
    const textBudget = Math.min(budget * 0.3, 3000);
    const text = paragraphText(rng, lang, textBudget);
    const first =
      kind === 'mixed-alternative'
        ? multipart('alternative', boundary(2), [textPart(rng, 'plain', text, charset), textPart(rng, 'html', htmlOf(text), 'utf-8')])
        : textPart(rng, 'plain', text, charset);
    const attachment = rng.pick(ATTACHMENTS);
    const rawSize = Math.max(64, Math.floor(((budget - textBudget * (kind === 'mixed-alternative' ? 2.5 : 1)) * 3) / 4.1));
    const fileName = `${rng.pick(lang.words)}-${index}.${attachment.ext}`;
    const encodedName = isAscii(fileName) ? `"${fileName}"` : `"${encodeWords(fileName, 'utf-8').replace(/\r\n /g, '')}"`;
    body = multipart('mixed', boundary(3), [
      first,
      {
        headers: [
          `Content-Type: ${attachment.type}; name=${encodedName}`,
          'Content-Transfer-Encoding: base64',
          `Content-Disposition: attachment; filename=${encodedName}`,
        ],
        body: Buffer.from(wrapBase64(rng.bytes(rawSize))),
      },
    ]);
  }
  const raw = Buffer.concat([Buffer.from(`${[...headers, ...body.headers].join('\n')}\n\n`), body.body, Buffer.from('\n')]);
  const flags = [rng.chance(0.6) ? 'S' : '', rng.chance(0.05) ? 'F' : '', rng.chance(0.1) ? 'R' : ''].filter(Boolean).sort().join('');
  return { raw, thread, flags };
}

/** The message in network form (CRLF line ends), as LMTP/SMTP DATA sends it before dot-stuffing. */
export function toCrlf(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** Dot-stuffs (RFC 5321 section 4.5.2) a CRLF message and appends the terminating "." line. */
export function dotStuff(crlf: Buffer): Buffer {
  let text = crlf.toString('latin1');
  if (!text.endsWith('\r\n')) text += '\r\n';
  return Buffer.from(text.replace(/^\./gm, '..') + '.\r\n', 'latin1');
}

function countLf(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** Throws when the file system holding `dir` has less than `needed` bytes free (plus a 256 MB margin). */
export function checkFreeDisk(dir: string, needed: number): void {
  let probe = dir;
  while (!existsSync(probe)) probe = dirname(probe);
  const st = statfsSync(probe);
  const free = Number(st.bavail) * Number(st.bsize);
  const margin = 256 * 1024 * 1024;
  if (free < needed + margin) {
    throw new Error(
      `bench corpus: not enough free disk under ${probe}: ${(free / 1e6).toFixed(0)} MB free, ${((needed + margin) / 1e6).toFixed(0)} MB needed`,
    );
  }
}

/**
 * The corpus for (seed, count), generated on first use into the cache directory (Maildir and mbox) and reused after.
 * A manifest written last marks a complete corpus; an incomplete one is regenerated.
 */
export function ensureCorpus(options: { seed?: number; count: number; cacheDir?: string; tailMax?: number; log?: (m: string) => void }): Corpus {
  const seed = options.seed ?? 1;
  const count = options.count;
  const tailMax = options.tailMax ?? 10 * 1024 * 1024;
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  const dir = join(cacheDir, `corpus-v${GENERATOR_VERSION}-seed${seed}-n${count}-tail${tailMax}`);
  const manifestFile = join(dir, 'manifest.json');
  const maildir = join(dir, 'Maildir');
  const mbox = join(dir, 'mbox');
  if (existsSync(manifestFile)) {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { messages: CorpusMessage[]; totalBytes: number };
    return { seed, count, dir, maildir, mbox, messages: manifest.messages, totalBytes: manifest.totalBytes };
  }
  const sizes = messageSizes(seed, count, tailMax);
  const expected = sizes.reduce((a, b) => a + b, 0);
  // Maildir + mbox, plus slack for the generator overshooting its targets.
  checkFreeDisk(cacheDir, Math.ceil(expected * 2.5));
  options.log?.(`generating corpus: ${count} messages, about ${(expected / 1e6).toFixed(1)} MB, seed ${seed}`);

  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(building, 'Maildir', sub), { recursive: true });
  writeFileSync(join(building, 'mbox'), '');
  const threads: ThreadInfo[] = [];
  const messages: CorpusMessage[] = [];
  let totalBytes = 0;
  for (let i = 0; i < count; i++) {
    const { raw, thread, flags } = generateMessage(seed, i, sizes[i]!, threads);
    threads.push(thread);
    if (threads.length > 200) threads.shift();
    const virtualSize = raw.length + countLf(raw);
    const name = `${1704182400 + i * 60}.M${i}P${seed}.bench.roost.test,S=${raw.length},W=${virtualSize}:2,${flags}`;
    writeFileSync(join(building, 'Maildir', 'cur', name), raw);
    const escaped = raw.toString('latin1').replace(/^(>*From )/gm, '>$1');
    appendFileSync(join(building, 'mbox'), Buffer.from(`From sender${i % 17}@example.org ${mboxDate(BASE_DATE + i * 37 * 60_000)}\n${escaped}\n`, 'latin1'));
    messages.push({ name, size: raw.length });
    totalBytes += raw.length;
  }
  writeFileSync(join(building, 'manifest.json'), JSON.stringify({ seed, count, tailMax, totalBytes, messages }));
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir);
  return { seed, count, dir, maildir, mbox, messages, totalBytes };
}

/** Copies the corpus's Maildir into `dest` (which gets cur/ new/ tmp/). */
export function copyMaildir(corpus: Corpus, dest: string): void {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dest, sub), { recursive: true });
  for (const name of readdirSync(join(corpus.maildir, 'cur'))) copyFileSync(join(corpus.maildir, 'cur', name), join(dest, 'cur', name));
}

/** A message of about `size` bytes in network form (CRLF, dot-stuffed, with the final "."), for LMTP/SMTP load. */
export function wireMessage(seed: number, index: number, size: number): Buffer {
  return dotStuff(toCrlf(generateMessage(seed, index, size).raw));
}
