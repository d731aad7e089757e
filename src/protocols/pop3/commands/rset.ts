// RSET (RFC 1939 section 5): unmarks every message marked deleted in this session.
import type { Pop3Command } from '../types.js';

export const rsetCommand: Pop3Command = {
  name: 'RSET',
  states: ['transaction'],
  run(s) {
    s.maildrop!.resetDeleted();
    s.ok();
  },
};
