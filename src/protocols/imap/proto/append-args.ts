// APPEND arguments, MULTIAPPEND included: mailbox, then per message optional flag list, optional
// date-time and the message as a literal or literal8 (buffered or streamed to a sink).
// Implements RFC 9051 section 6.3.12 and section 9 (append, append-message, append-opts, append-data),
// RFC 3502 (MULTIAPPEND), RFC 3516 / 4466 (literal8 in APPEND).
//
// Public API:
//   interface AppendMessage { flags: string[]; date?: { date: Date; tzOffsetMinutes: number };
//                             data: Buffer | null; sink: LiteralSink | null; size: number; literal8: boolean }
//   parseAppendArgs(args: readonly ImapToken[], opts: MailboxNameOptions): { mailbox: string; messages: AppendMessage[] }
//   (data is the Buffer when the reader buffered the literal; sink is set when it was streamed)

import { ArgCursor } from './arg-cursor.js';
import { parseDateTime } from './datetime.js';
import { parseFlagList } from './flags.js';
import { parseMailboxName, type MailboxNameOptions } from './mailbox-name.js';
import { ProtocolError } from './protocol-error.js';
import type { ImapToken, LiteralSink } from './tokens.js';

export interface AppendMessage {
  readonly flags: readonly string[];
  readonly date?: { readonly date: Date; readonly tzOffsetMinutes: number };
  readonly data: Buffer | null;
  readonly sink: LiteralSink | null;
  readonly size: number;
  readonly literal8: boolean;
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
    const data = cursor.next('message literal');
    if (data.type === 'literal') {
      messages.push({ flags, ...(date ? { date } : {}), data: data.value, sink: null, size: data.value.length, literal8: data.literal8 });
    } else if (data.type === 'streamed-literal') {
      messages.push({ flags, ...(date ? { date } : {}), data: null, sink: data.sink, size: data.size, literal8: data.literal8 });
    } else {
      throw new ProtocolError('Invalid APPEND message: expected a literal');
    }
  } while (!cursor.done);
  return { mailbox, messages };
}
