// UIDL (RFC 1939 section 7): the unique-id listing, in the configured pop3_uidl_format so it
// equals what Dovecot gives for the same store (stored P records and X-UIDL honoured).
import type { Pop3Command } from '../types.js';
import { messageIndex } from './message-number.js';

export const uidlCommand: Pop3Command = {
  name: 'UIDL',
  states: ['transaction'],
  run(s, args) {
    const md = s.maildrop!;
    if (args.length > 1) return s.err('UIDL takes at most one argument.');
    if (args.length === 1) {
      const i = messageIndex(s, args[0]);
      if (i !== undefined) s.ok(`${i + 1} ${md.uidl(i)}`);
      return;
    }
    const lines: string[] = ['+OK'];
    for (let i = 0; i < md.count; i++) if (!md.isDeleted(i)) lines.push(`${i + 1} ${md.uidl(i)}`);
    s.write(lines.join('\r\n') + '\r\n.\r\n');
  },
};
