// APPEND arguments, MULTIAPPEND included: mailbox, then per message optional flag list, optional
// date-time and the message as a literal or literal8 (buffered or streamed to a sink).
// Implements RFC 9051 section 6.3.12 and section 9 (append, append-message, append-opts, append-data),
// RFC 3502 (MULTIAPPEND), RFC 3516 / 4466 (literal8 in APPEND), RFC 6855 section 4 (UTF8 (literal8)),
// RFC 4469 section 5 (CATENATE (...), handed on as its list).
//
// Public API:
//   interface AppendMessage { flags: string[]; date?: { date: Date; tzOffsetMinutes: number };
//                             data: Buffer | null; sink: LiteralSink | null; size: number; literal8: boolean;
//                             utf8: boolean; catenate?: ListToken }
//   parseAppendArgs(args: readonly ImapToken[], opts: MailboxNameOptions): { mailbox: string; messages: AppendMessage[] }
//   (data is the Buffer when the reader buffered the literal; sink is set when it was streamed)

import { ArgCursor } from './arg-cursor.js';
import { parseDateTime } from './datetime.js';
import { parseFlagList } from './flags.js';
import { parseMailboxName, type MailboxNameOptions } from './mailbox-name.js';
import { ProtocolError } from './protocol-error.js';
import type { ImapToken, ListToken, LiteralSink } from './tokens.js';

export interface AppendMessage {
  readonly flags: readonly string[];
  readonly date?: { readonly date: Date; readonly tzOffsetMinutes: number };
  readonly data: Buffer | null;
  readonly sink: LiteralSink | null;
  readonly size: number;
  readonly literal8: boolean;
  /** Sent as UTF8 (~{n}) (RFC 6855 section 4). */
  readonly utf8: boolean;
  /** CATENATE (...): the parts, still as tokens (data and sink are null, size 0). */
  readonly catenate?: ListToken;
}

export function parseAppendArgs(
  args: readonly ImapToken[],
  opts: MailboxNameOptions,
): { mailbox: string; messages: AppendMessage[] } {
  const cursor = new ArgCursor(args);
  const mailbox = parseMailboxName(cursor.next('mailbox name'), opts);
  const messages: AppendMessage[] = [];
  do {
    let flags: string[] = [];
    let date: AppendMessage['date'];
    if (cursor.peek()?.type === 'list') flags = parseFlagList(cursor.next('flag list'));
    const maybeDate = cursor.peek();
    if (maybeDate?.type === 'string') {
      cursor.next('date-time');
      date = parseDateTime(maybeDate.value);
    }
    let data = cursor.next('message literal');
    let utf8 = false;
    const extension = data.type === 'atom' ? data.value.toUpperCase() : '';
    if (extension === 'UTF8') {
      // utf8-literal = "UTF8" SP "(" literal8 ")" (RFC 6855 section 4)
      const list = cursor.next('UTF8 data');
      if (list.type !== 'list' || list.items.length !== 1) throw new ProtocolError('Invalid UTF8 APPEND data: expected (literal8)');
      data = list.items[0]!;
      if ((data.type !== 'literal' && data.type !== 'streamed-literal') || !data.literal8) throw new ProtocolError('Invalid UTF8 APPEND data: expected a literal8');
      utf8 = true;
    }
    if (extension === 'CATENATE') {
      const list = cursor.next('CATENATE parts');
      if (list.type !== 'list' || list.items.length === 0) throw new ProtocolError('Invalid CATENATE: expected a list of parts');
      messages.push({ flags, ...(date ? { date } : {}), data: null, sink: null, size: 0, literal8: false, utf8: false, catenate: list });
    } else if (data.type === 'literal') {
      messages.push({ flags, ...(date ? { date } : {}), data: data.value, sink: null, size: data.value.length, literal8: data.literal8, utf8 });
    } else if (data.type === 'streamed-literal') {
      messages.push({ flags, ...(date ? { date } : {}), data: null, sink: data.sink, size: data.size, literal8: data.literal8, utf8 });
    } else {
      throw new ProtocolError('Invalid APPEND message: expected a literal');
    }
  } while (!cursor.done);
  return { mailbox, messages };
}
