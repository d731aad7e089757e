// LIST (RFC 9051 section 6.3.9, RFC 3501 6.3.8) with LIST-EXTENDED (RFC 5258: selection SUBSCRIBED, REMOTE,
// RECURSIVEMATCH; return SUBSCRIBED, CHILDREN, several patterns), CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154)
// and LIST-STATUS (RFC 5819). Attributes appear in Dovecot's order and under Dovecot's rules: a plain LIST
// shows children and special-use and says \Noselect; an extended LIST shows only what was asked and says \NonExistent.
import { parseListArgs, type ListArgs } from '../proto/list-args.js';
import { ProtocolError } from '../proto/protocol-error.js';
import { formatMailbox, formatString } from '../proto/response.js';
import { ok, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import { MailboxPattern, compareMailboxNames, hierarchyRoot } from './mailbox-pattern.js';
import { checkStatusItems, sendStatus } from './status-items.js';
import { mailboxesByName } from './mailbox-lookup.js';

/** Parses LIST arguments; a pattern that is not a valid mailbox name simply matches nothing (as Dovecot). */
function parseOrNothing(s: ImapSessionApi, tokens: Parameters<typeof parseListArgs>[0]): ListArgs | undefined {
  try {
    return parseListArgs(tokens, { utf8: s.utf8Names });
  } catch (err) {
    if (err instanceof ProtocolError && err.kind === 'NO') return undefined;
    throw err;
  }
}

export const listCommand: ImapCommandSpec = {
  name: 'LIST',
  states: ['authenticated', 'selected'],
  capabilities: () => ['CHILDREN', 'LIST-EXTENDED', 'LIST-STATUS', 'SPECIAL-USE'],
  async run(s, cmd) {
    const args = parseOrNothing(s, cmd.args);
    if (!args) return ok('List completed.');
    const { selection: sel, returns: ret, extended } = args;
    if (ret.status) checkStatusItems(s, ret.status);
    const storage = s.storage!;
    const sep = storage.separator;
    const utf8 = s.utf8Names;

    // LIST "" "": the hierarchy separator and the root of the reference's hierarchy (RFC 9051 section 6.3.9).
    if (args.patterns.length === 1 && args.patterns[0] === '') {
      s.untagged(`LIST (\\Noselect) ${formatString(sep)} ${formatMailbox(hierarchyRoot(args.reference, sep), { utf8 })}`);
      return ok('List completed.');
    }

    const patterns = args.patterns.filter((p) => p !== '').map((p) => MailboxPattern.join(args.reference, p, sep));
    const matches = (name: string): boolean => patterns.some((p) => p.matches(name));
    const mailboxes = await storage.listMailboxes();
    const byName = mailboxesByName(mailboxes);
    const wantSubscriptions = sel.subscribed || ret.subscribed;
    const subscribed = new Set(wantSubscriptions ? await storage.listSubscriptions() : []);

    const names = new Set(byName.keys());
    if (sel.subscribed) for (const n of subscribed) names.add(n);
    const candidates = [...names].sort(compareMailboxNames);

    const selecting = sel.subscribed || sel.specialUse;
    const meetsSelection = (name: string): boolean =>
      (!sel.subscribed || subscribed.has(name)) && (!sel.specialUse || byName.get(name)?.specialUse !== undefined);
    const childInfoTag = sel.subscribed ? 'SUBSCRIBED' : 'SPECIAL-USE';

    for (const name of candidates) {
      if (!matches(name)) continue;
      const box = byName.get(name);
      let childInfo = false;
      if (selecting) {
        // RECURSIVEMATCH (RFC 5258 section 3): a parent whose descendants meet the selection is returned too.
        if (sel.recursiveMatch) childInfo = candidates.some((c) => c.startsWith(name + sep) && meetsSelection(c));
        if (!meetsSelection(name) && !childInfo) continue;
      }
      const exists = box !== undefined && !box.noSelect;
      const hasChildren = box ? box.hasChildren : mailboxes.some((m) => m.name.startsWith(name + sep));
      const attrs: string[] = [];
      if (wantSubscriptions && subscribed.has(name)) attrs.push('\\Subscribed');
      if (!exists) attrs.push(extended ? '\\NonExistent' : '\\Noselect');
      if (!extended || ret.children) attrs.push(hasChildren ? '\\HasChildren' : '\\HasNoChildren');
      if ((!extended || ret.specialUse || sel.specialUse) && box?.specialUse) attrs.push(box.specialUse);
      const extra = childInfo ? ` (CHILDINFO ("${childInfoTag}"))` : '';
      s.untagged(`LIST (${attrs.join(' ')}) ${formatString(sep)} ${formatMailbox(name, { utf8 })}${extra}`);
      // LIST-STATUS (RFC 5819 section 2): the STATUS response follows the mailbox's LIST response.
      if (ret.status && exists) {
        const status = await storage.status(name).catch(() => undefined);
        if (status) sendStatus(s, name, ret.status, status);
      }
    }
    return ok('List completed.');
  },
};
