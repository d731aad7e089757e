// ENABLE (RFC 5161, RFC 9051 section 6.3.1): turns on extensions that change server responses;
// answers with the ones newly enabled. Known here: IMAP4rev2, CONDSTORE and QRESYNC (RFC 7162 3.1, 3.2.3), UTF8=ACCEPT
// (RFC 6855 section 3).
import { ArgCursor } from '../proto/arg-cursor.js';
import { ok, type ImapCommandSpec } from '../types.js';

export const ENABLEABLE = new Set(['IMAP4REV2', 'CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT']);

export const enableCommand: ImapCommandSpec = {
  name: 'ENABLE',
  states: ['authenticated'],
  capabilities: () => ['UTF8=ACCEPT'],
  run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const newly: string[] = [];
    const before = new Set(s.enabled);
    do {
      const name = args.atom('capability');
      const upper = name.toUpperCase();
      const shown = upper === 'IMAP4REV2' ? 'IMAP4rev2' : upper;
      if (ENABLEABLE.has(upper) && !before.has(upper) && !newly.includes(shown)) {
        s.enabled.add(upper);
        // QRESYNC implies CONDSTORE (RFC 7162 section 3.2.3); only the names asked for are listed as ENABLED.
        if (upper === 'QRESYNC') s.enabled.add('CONDSTORE');
        newly.push(shown);
      }
    } while (!args.done);
    s.untagged(`ENABLED${newly.length ? ' ' + newly.join(' ') : ''}`);
    return ok('Enabled.');
  },
};
