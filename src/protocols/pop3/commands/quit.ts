// QUIT (RFC 1939 sections 4 and 6): in TRANSACTION enters UPDATE and removes the marked messages
// as one storage transaction before saying +OK; a failure keeps them all and says -ERR.
import type { Pop3Command } from '../types.js';

export const quitCommand: Pop3Command = {
  name: 'QUIT',
  states: ['authorization', 'transaction'],
  async run(s) {
    if (s.state === 'authorization') {
      s.ok('Logging out.');
      return s.close();
    }
    s.state = 'update';
    try {
      const removed = await s.maildrop!.commit();
      s.log.info({ deleted: removed }, 'update');
      s.ok(removed ? `Logging out, messages deleted.` : 'Logging out.');
    } catch (err) {
      s.log.error({ err: (err as Error).message }, 'update failed');
      s.err('Some deleted messages were not removed.', 'SYS/TEMP');
    }
    s.close();
  },
};
