// LIST (RFC 1939 section 5): "n size" for one message or every message not marked deleted;
// sizes count CRLF line ends, as the message is sent.
import type { Pop3Command } from '../types.js';
import { messageIndex } from './message-number.js';

export const listCommand: Pop3Command = {
  name: 'LIST',
  states: ['transaction'],
  run(s, args) {
    const md = s.maildrop!;
    if (args.length > 1) return s.err('LIST takes at most one argument.');
    if (args.length === 1) {
      const i = messageIndex(s, args[0]);
      if (i !== undefined) s.ok(`${i + 1} ${md.size(i)}`);
      return;
    }
    const lines: string[] = [`+OK ${md.totals().count} messages:`];
    for (let i = 0; i < md.count; i++) if (!md.isDeleted(i)) lines.push(`${i + 1} ${md.size(i)}`);
    s.write(lines.join('\r\n') + '\r\n.\r\n');
  },
};
