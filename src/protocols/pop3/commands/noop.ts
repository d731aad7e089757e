// NOOP (RFC 1939 section 5).
import type { Pop3Command } from '../types.js';

export const noopCommand: Pop3Command = {
  name: 'NOOP',
  states: ['transaction'],
  run(s) {
    s.ok();
  },
};
