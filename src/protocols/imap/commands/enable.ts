// ENABLE (RFC 5161, RFC 9051 section 6.3.1): turns on extensions that change server responses;
// answers with the ones newly enabled. Known here: IMAP4rev2 (and later CONDSTORE, QRESYNC, UTF8=ACCEPT).
import { ArgCursor } from '../proto/arg-cursor.js';
import { ok, type ImapCommandSpec } from '../types.js';

export const ENABLEABLE = new Set(['IMAP4REV2']);

export const enableCommand: ImapCommandSpec = {
  name: 'ENABLE',
  states: ['authenticated'],
  run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const newly: string[] = [];
    do {
      const name = args.atom('capability');
      const upper = name.toUpperCase();
      if (ENABLEABLE.has(upper) && !s.enabled.has(upper)) {
        s.enabled.add(upper);
        newly.push(upper === 'IMAP4REV2' ? 'IMAP4rev2' : upper);
      }
    } while (!args.done);
    s.untagged(`ENABLED${newly.length ? ' ' + newly.join(' ') : ''}`);
    return ok('Enabled.');
  },
};
