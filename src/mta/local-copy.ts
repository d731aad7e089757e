// A queued message in the UNIX form Postfix's local(8) hands to commands and files (mail_copy()): From_ line,
// Return-Path, X-Original-To and Delivered-To (RFC 5321 section 4.4, RFC 9228), LF line ends, ">From " quoting for mbox.
import { formatFromLine } from '../storage/backends/mbox/from-line.js';

export interface CopyOptions {
  /** The envelope sender ("" for the null sender: MAILER-DAEMON on the From_ line). */
  sender: string;
  /** The recipient as given to Roost (X-Original-To). */
  original: string;
  /** The final envelope recipient (Delivered-To). */
  delivered: string;
  /** Prepend a "From sender date" line (commands and mbox files; not maildir). */
  fromLine: boolean;
  /** Prefix ">" to body lines that begin with "From " (mbox files). */
  quote: boolean;
  /** Append an empty line (mbox files: the separator before the next From_ line). */
  blank: boolean;
  date?: Date;
}

/** The lines local(8) writes before the message. */
export function copyPrefix(o: CopyOptions): Buffer {
  let head = '';
  if (o.fromLine) head += formatFromLine(o.sender, o.date ?? new Date());
  head += `Return-Path: <${o.sender}>\nX-Original-To: ${o.original}\nDelivered-To: ${o.delivered.toLowerCase()}\n`;
  return Buffer.from(head, 'utf8');
}

const LF = 0x0a;
const CR = 0x0d;
const FROM_ = Buffer.from('From ');

/**
 * The message as local(8) copies it: the prefix, every line ended by LF (a CRLF loses its CR; a last line without an
 * end gets one), "From " at the start of a line quoted as ">From " when asked, an empty line at the end when asked.
 */
export async function* localCopy(content: AsyncIterable<Buffer | string> | Iterable<Buffer>, o: CopyOptions): AsyncGenerator<Buffer> {
  yield copyPrefix(o);
  let carry = Buffer.alloc(0);
  const line = (bytes: Buffer, out: Buffer[]) => {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
    if (o.quote && end >= FROM_.length && bytes.subarray(0, FROM_.length).equals(FROM_)) out.push(Buffer.from('>'));
    out.push(bytes.subarray(0, end), Buffer.from('\n'));
  };
  for await (const chunk of content) {
    const buf = carry.length ? Buffer.concat([carry, Buffer.from(chunk)]) : Buffer.from(chunk);
    const out: Buffer[] = [];
    let start = 0;
    for (let nl = buf.indexOf(LF, start); nl >= 0; nl = buf.indexOf(LF, start)) {
      line(buf.subarray(start, nl), out);
      start = nl + 1;
    }
    carry = Buffer.from(buf.subarray(start));
    if (out.length) yield Buffer.concat(out);
  }
  const out: Buffer[] = [];
  if (carry.length) line(carry, out);
  if (o.blank) out.push(Buffer.from('\n'));
  if (out.length) yield Buffer.concat(out);
}
