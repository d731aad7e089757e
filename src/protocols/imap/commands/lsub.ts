// LSUB (RFC 3501 section 6.3.9; kept in RFC 9051 only as LIST (SUBSCRIBED)): subscribed names matching the
// pattern; with a trailing "%", unsubscribed parents of subscribed names come back as \Noselect (as Dovecot).
import { parseLsubArgs } from '../proto/list-args.js';
import { ProtocolError } from '../proto/protocol-error.js';
import { formatMailbox, formatString } from '../proto/response.js';
import { ok, type ImapCommandSpec } from '../types.js';
import { mailboxesByName } from './mailbox-lookup.js';
import { MailboxPattern, ancestorsOf, compareMailboxNames, hierarchyRoot } from './mailbox-pattern.js';

export const lsubCommand: ImapCommandSpec = {
  name: 'LSUB',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    let args: { reference: string; pattern: string };
    try {
      args = parseLsubArgs(cmd.args, { utf8: s.utf8Names });
    } catch (err) {
      if (err instanceof ProtocolError && err.kind === 'NO') return ok('Lsub completed.');
      throw err;
    }
    const storage = s.storage!;
    const sep = storage.separator;
    const utf8 = s.utf8Names;
    if (args.pattern === '') {
      s.untagged(`LSUB (\\Noselect) ${formatString(sep)} ${formatMailbox(hierarchyRoot(args.reference, sep), { utf8 })}`);
      return ok('Lsub completed.');
    }
    const pattern = MailboxPattern.join(args.reference, args.pattern, sep);
    const subscribed = new Set(await storage.listSubscriptions());
    const byName = mailboxesByName(await storage.listMailboxes());
    const names = new Set(subscribed);
    if (pattern.endsWithPercent) for (const n of subscribed) for (const a of ancestorsOf(n, sep)) names.add(a);
    for (const name of [...names].sort(compareMailboxNames)) {
      if (!pattern.matches(name)) continue;
      const box = byName.get(name);
      const attrs: string[] = [];
      if (!subscribed.has(name) || !box || box.noSelect) attrs.push('\\Noselect');
      if (subscribed.has(name) && box?.specialUse) attrs.push(box.specialUse);
      s.untagged(`LSUB (${attrs.join(' ')}) ${formatString(sep)} ${formatMailbox(name, { utf8 })}`);
    }
    return ok('Lsub completed.');
  },
};
