// RETR (RFC 1939 section 7): sends the whole message, CRLF line ends and dot-stuffed, streamed
// so a large message never sits whole in memory.
import type { Pop3Command } from '../types.js';
import { messageIndex } from './message-number.js';

export const retrCommand: Pop3Command = {
  name: 'RETR',
  states: ['transaction'],
  async run(s, args) {
    if (args.length !== 1) return s.err('RETR takes one argument.');
    const i = messageIndex(s, args[0]);
    if (i === undefined) return;
    await s.maildrop!.send(s, i, undefined);
  },
};
