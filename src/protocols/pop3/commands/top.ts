// TOP (RFC 1939 section 7): the header, the blank line and the first n body lines, dot-stuffed.
import type { Pop3Command } from '../types.js';
import { messageIndex } from './message-number.js';

export const topCommand: Pop3Command = {
  name: 'TOP',
  states: ['transaction'],
  async run(s, args) {
    if (args.length !== 2) return s.err('TOP takes a message number and a line count.');
    if (!/^\d{1,10}$/.test(args[1])) return s.err('Invalid number of lines.');
    const i = messageIndex(s, args[0]);
    if (i === undefined) return;
    await s.maildrop!.send(s, i, Number(args[1]));
  },
};
