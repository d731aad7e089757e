// STAT (RFC 1939 section 5): count and total size of the messages not marked deleted.
import type { Pop3Command } from '../types.js';

export const statCommand: Pop3Command = {
  name: 'STAT',
  states: ['transaction'],
  run(s, args) {
    if (args.length) return s.err('STAT takes no arguments.');
    const { count, size } = s.maildrop!.totals();
    s.ok(`${count} ${size}`);
  },
};
