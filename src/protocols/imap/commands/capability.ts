// CAPABILITY (RFC 9051 section 6.1.1).
import { ArgCursor } from '../proto/arg-cursor.js';
import { ok, type ImapCommandSpec } from '../types.js';

export const capabilityCommand: ImapCommandSpec = {
  name: 'CAPABILITY',
  states: ['not-authenticated', 'authenticated', 'selected'],
  run(s, cmd) {
    new ArgCursor(cmd.args).end();
    s.untagged(`CAPABILITY ${s.capabilities().join(' ')}`);
    return ok('Capability completed.');
  },
};
