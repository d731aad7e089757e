// ID (RFC 2971): logs what the client says about itself and answers with the server's name.
import { ArgCursor } from '../proto/arg-cursor.js';
import { ok, type ImapCommandSpec } from '../types.js';
import { ProtocolError } from '../proto/protocol-error.js';

export const idCommand: ImapCommandSpec = {
  name: 'ID',
  states: ['not-authenticated', 'authenticated', 'selected'],
  run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const next = args.next('ID parameters');
    const client: Record<string, string | null> = {};
    if (next.type === 'list') {
      const items = new ArgCursor(next.items);
      if (items.remaining % 2 !== 0) throw new ProtocolError('ID parameters must be field/value pairs');
      if (items.remaining > 60) throw new ProtocolError('Too many ID fields');
      while (!items.done) {
        const key = items.string('ID field').slice(0, 64);
        client[key] = items.nstring('ID value')?.slice(0, 1024) ?? null;
      }
    } else if (next.type !== 'nil') {
      throw new ProtocolError('ID takes a list or NIL');
    }
    args.end();
    s.log.info({ client }, 'client id');
    s.untagged('ID ("name" "Roost" "vendor" "Roost")');
    return ok('ID completed.');
  },
};
