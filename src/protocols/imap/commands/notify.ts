// NOTIFY (RFC 5465 section 3): NOTIFY SET [STATUS] with event groups, or NOTIFY NONE; events Roost does not
// report are refused with NO [BADEVENT (<supported events>)] (section 5), forbidden combinations with BAD.
import { no, ok, type ImapCommandSpec } from '../types.js';
import { BadEventError, SUPPORTED_EVENTS, parseNotify } from '../notify/notify-spec.js';
import { Notifier } from '../notify/notifier.js';

export const notifyCommand: ImapCommandSpec = {
  name: 'NOTIFY',
  states: ['authenticated', 'selected'],
  capabilities: () => ['NOTIFY'],
  async run(s, cmd) {
    let spec;
    try {
      spec = parseNotify(cmd.args, s.utf8Names);
    } catch (err) {
      if (err instanceof BadEventError) return no(err.message, `BADEVENT (${SUPPORTED_EVENTS.join(' ')})`);
      throw err;
    }
    await Notifier.set(s, spec);
    return ok('NOTIFY completed.');
  },
};
