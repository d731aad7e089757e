// NAMESPACE (RFC 2342, RFC 9051 section 6.3.10): one personal namespace with the empty prefix and the
// store's hierarchy separator, no other users' or shared namespaces, as Dovecot's default inbox namespace.
import { ArgCursor } from '../proto/arg-cursor.js';
import { formatString } from '../proto/response.js';
import { ok, type ImapCommandSpec } from '../types.js';

export const namespaceCommand: ImapCommandSpec = {
  name: 'NAMESPACE',
  states: ['authenticated', 'selected'],
  capabilities: () => ['NAMESPACE'],
  run(s, cmd) {
    new ArgCursor(cmd.args).end();
    s.untagged(`NAMESPACE (("" ${formatString(s.storage!.separator)})) NIL NIL`);
    return ok('Namespace completed.');
  },
};
