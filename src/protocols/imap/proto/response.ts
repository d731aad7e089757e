// IMAP response serialiser: typed values to bytes, choosing atom / quoted / literal correctly, with
// literal bodies that may be streams of known length so a large FETCH never sits whole in memory.
// Implements RFC 9051 sections 4, 7 and 9 (response, resp-text-code, continue-req, string, nstring,
// literal, literal8, mailbox), RFC 6855 section 3 (UTF-8 quoted strings once UTF8=ACCEPT is enabled).
//
// Public API (values):
//   type ResponseValue                     built with the helpers below
//   atom(text) raw(text) num(n) str(s) astr(s) nstr(s|null) NIL list(items) literal(body, size?, literal8?)
//   flagList(flags: string[]) dateTime(date, tzOffsetMinutes?) mailbox(name, { utf8 })
// Public API (encoding):
//   interface EncodeOptions { utf8?: boolean }   UTF8=ACCEPT / IMAP4rev2 enabled: 8-bit UTF-8 may be quoted
//   type ResponseChunk = Buffer | { stream: Readable; size: number }
//   encodeValues(values: ResponseValue[], opts?): ResponseChunk[]      values joined by SP
//   untagged(values: ResponseValue[], opts?): ResponseChunk[]          "* v1 v2\r\n"
//   untaggedStatus(status, text, code?): Buffer                         "* OK [UIDNEXT 5] text\r\n"
//   tagged(tag, status: 'OK'|'NO'|'BAD', text, code?): Buffer           "a1 OK [READ-WRITE] text\r\n"
//   continuation(text?: string): Buffer                                 "+ text\r\n"
//   interface ResponseCode { name: string; args?: ResponseValue[] }     [NAME arg arg]
//   chunksToBuffer(chunks): Buffer             (throws if a chunk is a stream)
//   writeChunks(chunks, out: Writable): Promise<void>   honours back-pressure; checks stream lengths
//   formatString(value: string | Buffer, opts?): string    quoted or literal ("{n}\r\n..." inline)
//   formatAstring(value: string, opts?): string             atom when it is one, else formatString
//   formatMailbox(name: string, opts: { utf8: boolean }): string

import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { encodeMutf7 } from '../../../lib/mutf7.js';
import { formatDateTime } from './datetime.js';

export type ResponseValue =
  | { readonly kind: 'atom'; readonly text: string }
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'number'; readonly value: number | bigint }
  | { readonly kind: 'string'; readonly value: string | Buffer }
  | { readonly kind: 'astring'; readonly value: string }
  | { readonly kind: 'nil' }
  | { readonly kind: 'list'; readonly items: readonly ResponseValue[] }
  | { readonly kind: 'literal'; readonly body: Buffer | Readable; readonly size: number; readonly literal8: boolean }
  | { readonly kind: 'mailbox'; readonly name: string; readonly utf8: boolean };

export interface EncodeOptions {
  readonly utf8?: boolean;
}

export interface ResponseCode {
  readonly name: string;
  readonly args?: readonly ResponseValue[];
}

export type ResponseChunk = Buffer | { readonly stream: Readable; readonly size: number };

// ---- value helpers ----

const ATOM_TEXT_RE = /^[^\x00-\x20\x7f-\uffff(){%*"\\\]]+$/;

/** Written verbatim; must be valid atom syntax (keywords, flags such as \Seen, capability names). */
export function atom(text: string): ResponseValue {
  if (!/^[\x21-\x7e]+$/.test(text) || /[(){"]/.test(text)) throw new Error(`not an atom: ${JSON.stringify(text)}`);
  return { kind: 'atom', text };
}

/** Pre-formatted protocol syntax written verbatim (e.g. a FETCH item name "BODY[1.2]<0>"). No CR/LF. */
export function raw(text: string): ResponseValue {
  if (/[\r\n]/.test(text)) throw new Error('raw response text must not contain CR or LF');
  return { kind: 'raw', text };
}

export function num(value: number | bigint): ResponseValue {
  if (typeof value === 'number' && (!Number.isSafeInteger(value) || value < 0)) throw new Error(`not a number: ${value}`);
  if (typeof value === 'bigint' && value < 0n) throw new Error(`not a number: ${value}`);
  return { kind: 'number', value };
}

/** A string: quoted when safe, else a literal. */
export function str(value: string | Buffer): ResponseValue {
  return { kind: 'string', value };
}

/** An astring: an atom when the text is one (and not NIL), else a string. */
export function astr(value: string): ResponseValue {
  return { kind: 'astring', value };
}

export function nstr(value: string | Buffer | null | undefined): ResponseValue {
  return value === null || value === undefined ? NIL : { kind: 'string', value };
}

export const NIL: ResponseValue = { kind: 'nil' };

export function list(items: readonly ResponseValue[]): ResponseValue {
  return { kind: 'list', items };
}

/** A literal whose body is a Buffer, or a stream that yields exactly `size` bytes. */
export function literal(body: Buffer | Readable, size?: number, literal8 = false): ResponseValue {
  if (Buffer.isBuffer(body)) return { kind: 'literal', body, size: body.length, literal8 };
  if (size === undefined || !Number.isSafeInteger(size) || size < 0) throw new Error('a streamed literal needs its size');
  return { kind: 'literal', body, size, literal8 };
}

export function flagList(flags: readonly string[]): ResponseValue {
  return list(flags.map((f) => atom(f)));
}

export function dateTime(date: Date, tzOffsetMinutes?: number): ResponseValue {
  return str(formatDateTime(date, tzOffsetMinutes));
}

/** A mailbox name: UTF-8 when UTF8=ACCEPT / IMAP4rev2 is enabled, else modified UTF-7. */
export function mailbox(name: string, opts: { utf8: boolean }): ResponseValue {
  return { kind: 'mailbox', name, utf8: opts.utf8 };
}

// ---- string forms ----

function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Can these bytes go inside a quoted string? (no CR, LF, NUL; 8-bit only as UTF-8 when allowed) */
function quotable(bytes: Buffer, utf8: boolean): boolean {
  let high = false;
  for (const b of bytes) {
    if (b === 0x0d || b === 0x0a || b === 0) return false;
    if (b >= 0x80) high = true;
  }
  if (!high) return true;
  return utf8 && isValidUtf8(bytes);
}

function quote(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return '"' + text.replace(/["\\]/g, (c) => '\\' + c) + '"';
}

export function formatString(value: string | Buffer, opts: EncodeOptions = {}): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (quotable(bytes, opts.utf8 ?? false)) return quote(bytes);
  return `{${bytes.length}}\r\n${bytes.toString('latin1')}`;
}

export function formatAstring(value: string, opts: EncodeOptions = {}): string {
  if (ATOM_TEXT_RE.test(value) && value.toUpperCase() !== 'NIL') return value;
  return formatString(value, opts);
}

export function formatMailbox(name: string, opts: { utf8: boolean }): string {
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  return formatAstring(opts.utf8 ? name : encodeMutf7(name), { utf8: opts.utf8 });
}

// ---- encoder ----

class ChunkBuilder {
  readonly chunks: ResponseChunk[] = [];
  private parts: Buffer[] = [];
  private text = '';

  constructor(private readonly opts: EncodeOptions) {}

  private flushText(): void {
    if (this.text) {
      this.parts.push(Buffer.from(this.text, 'latin1'));
      this.text = '';
    }
  }

  private flushParts(): void {
    this.flushText();
    if (this.parts.length === 1) this.chunks.push(this.parts[0]!);
    else if (this.parts.length > 1) this.chunks.push(Buffer.concat(this.parts));
    this.parts = [];
  }

  ascii(text: string): void {
    this.text += text;
  }

  bytes(b: Buffer): void {
    this.flushText();
    this.parts.push(b);
  }

  stream(stream: Readable, size: number): void {
    this.flushParts();
    this.chunks.push({ stream, size });
  }

  stringValue(value: string | Buffer): void {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    if (quotable(bytes, this.opts.utf8 ?? false)) {
      let plain = true;
      for (const b of bytes) {
        if (b === 0x22 || b === 0x5c || b >= 0x80) {
          plain = false;
          break;
        }
      }
      if (plain) {
        this.ascii('"' + bytes.toString('latin1') + '"');
      } else {
        this.ascii('"');
        let start = 0;
        for (let i = 0; i < bytes.length; i++) {
          const b = bytes[i]!;
          if (b === 0x22 || b === 0x5c) {
            this.bytes(bytes.subarray(start, i));
            this.ascii('\\' + String.fromCharCode(b));
            start = i + 1;
          }
        }
        this.bytes(bytes.subarray(start));
        this.ascii('"');
      }
      return;
    }
    this.ascii(`{${bytes.length}}\r\n`);
    this.bytes(bytes);
  }

  value(v: ResponseValue): void {
    switch (v.kind) {
      case 'atom':
      case 'raw':
        this.ascii(v.text);
        return;
      case 'number':
        this.ascii(String(v.value));
        return;
      case 'nil':
        this.ascii('NIL');
        return;
      case 'string':
        this.stringValue(v.value);
        return;
      case 'astring':
        if (ATOM_TEXT_RE.test(v.value) && v.value.toUpperCase() !== 'NIL') this.ascii(v.value);
        else this.stringValue(v.value);
        return;
      case 'mailbox': {
        if (v.name.toUpperCase() === 'INBOX') {
          this.ascii('INBOX');
          return;
        }
        const text = v.utf8 ? v.name : encodeMutf7(v.name);
        if (ATOM_TEXT_RE.test(text) && text.toUpperCase() !== 'NIL') this.ascii(text);
        else if (v.utf8) this.stringValue(text);
        else this.stringValue(Buffer.from(text, 'latin1'));
        return;
      }
      case 'list':
        this.ascii('(');
        this.values(v.items);
        this.ascii(')');
        return;
      case 'literal':
        this.ascii(`${v.literal8 ? '~' : ''}{${v.size}}\r\n`);
        if (Buffer.isBuffer(v.body)) this.bytes(v.body);
        else this.stream(v.body, v.size);
        return;
    }
  }

  values(items: readonly ResponseValue[]): void {
    items.forEach((item, i) => {
      if (i > 0) this.ascii(' ');
      this.value(item);
    });
  }

  finish(): ResponseChunk[] {
    this.flushParts();
    return this.chunks;
  }
}

export function encodeValues(values: readonly ResponseValue[], opts: EncodeOptions = {}): ResponseChunk[] {
  const b = new ChunkBuilder(opts);
  b.values(values);
  return b.finish();
}

export function untagged(values: readonly ResponseValue[], opts: EncodeOptions = {}): ResponseChunk[] {
  const b = new ChunkBuilder(opts);
  b.ascii('* ');
  b.values(values);
  b.ascii('\r\n');
  return b.finish();
}

/** resp-text: CR, LF and NUL are not allowed in text; a text starting with "[" would read as a code. */
function cleanText(text: string): string {
  const clean = text.replace(/[\r\n\0]+/g, ' ');
  return clean.startsWith('[') ? ` ${clean}` : clean;
}

function formatCode(code: ResponseCode | undefined, opts: EncodeOptions): string {
  if (!code) return '';
  if (!/^[A-Z0-9.-]+$/i.test(code.name)) throw new Error(`invalid response code ${code.name}`);
  if (!code.args || code.args.length === 0) return `[${code.name}] `;
  const body = chunksToBuffer(encodeValues(code.args, opts)).toString('latin1');
  if (/[\r\n]/.test(body)) throw new Error('response code arguments must fit on the line');
  return `[${code.name} ${body}] `;
}

export function untaggedStatus(
  status: 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH',
  text: string,
  code?: ResponseCode,
  opts: EncodeOptions = {},
): Buffer {
  return Buffer.from(`* ${status} ${formatCode(code, opts)}${cleanText(text)}\r\n`, 'latin1');
}

export function tagged(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: ResponseCode, opts: EncodeOptions = {}): Buffer {
  return Buffer.from(`${tag} ${status} ${formatCode(code, opts)}${cleanText(text)}\r\n`, 'latin1');
}

export function continuation(text = ''): Buffer {
  return Buffer.from(`+ ${text.replace(/[\r\n\0]+/g, ' ')}\r\n`, 'latin1');
}

export function chunksToBuffer(chunks: readonly ResponseChunk[]): Buffer {
  return Buffer.concat(
    chunks.map((c) => {
      if (!Buffer.isBuffer(c)) throw new Error('response holds a streamed literal');
      return c;
    }),
  );
}

async function writeWithBackpressure(out: Writable, data: Buffer): Promise<void> {
  if (!out.write(data)) await once(out, 'drain');
}

/** Writes the chunks in order; a streamed literal must yield exactly its announced size. */
export async function writeChunks(chunks: readonly ResponseChunk[], out: Writable): Promise<void> {
  for (const chunk of chunks) {
    if (Buffer.isBuffer(chunk)) {
      await writeWithBackpressure(out, chunk);
      continue;
    }
    let written = 0;
    for await (const piece of chunk.stream) {
      const buf: Buffer = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as string);
      written += buf.length;
      if (written > chunk.size) throw new Error(`literal stream longer than its announced ${chunk.size} bytes`);
      await writeWithBackpressure(out, buf);
    }
    if (written !== chunk.size) throw new Error(`literal stream gave ${written} of its announced ${chunk.size} bytes`);
  }
}
