// DELE (RFC 1939 section 5): only marks the message; it is removed at QUIT in the UPDATE state.
import type { Pop3Command } from '../types.js';
import { messageIndex } from './message-number.js';

export const deleCommand: Pop3Command = {
  name: 'DELE',
  states: ['transaction'],
  run(s, args) {
    if (args.length !== 1) return s.err('DELE takes one argument.');
    const i = messageIndex(s, args[0]);
    if (i === undefined) return;
    s.maildrop!.markDeleted(i);
    s.ok('Marked to be deleted.');
  },
};
