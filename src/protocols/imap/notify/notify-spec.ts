// NOTIFY arguments (RFC 5465 sections 3, 5 and 8): "SET [STATUS] (filter events) ..." or "NONE"; filters SELECTED,
// SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED, SUBTREE and MAILBOXES; the events Roost reports and the
// combinations the RFC forbids (BAD) or Roost does not report (NO [BADEVENT ...]).
import { ArgCursor } from '../proto/arg-cursor.js';
import { parseMailboxName } from '../proto/mailbox-name.js';
import { ProtocolError } from '../proto/protocol-error.js';
import type { ImapToken } from '../proto/tokens.js';

export type NotifyEvent = 'MessageNew' | 'MessageExpunge' | 'FlagChange' | 'MailboxName' | 'SubscriptionChange';
export const SUPPORTED_EVENTS: readonly NotifyEvent[] = ['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange'];
const KNOWN_EVENTS = ['MESSAGENEW', 'MESSAGEEXPUNGE', 'FLAGCHANGE', 'ANNOTATIONCHANGE', 'MAILBOXNAME', 'SUBSCRIPTIONCHANGE', 'MAILBOXMETADATACHANGE', 'SERVERMETADATACHANGE'];

export type NotifyFilter =
  | { kind: 'selected' | 'selected-delayed' | 'inboxes' | 'personal' | 'subscribed' }
  | { kind: 'subtree' | 'mailboxes'; names: string[] };

export interface EventGroup {
  filter: NotifyFilter;
  events: Set<NotifyEvent>;
}

export interface NotifySpec {
  status: boolean;
  groups: EventGroup[];
}

/** An event Roost does not report: NO [BADEVENT (<supported>)] (RFC 5465 section 5). */
export class BadEventError extends Error {}

function mailboxes(token: ImapToken, utf8: boolean): string[] {
  if (token.type === 'list') {
    const c = new ArgCursor(token.items);
    const out: string[] = [];
    do out.push(parseMailboxName(c.next('mailbox'), { utf8 }));
    while (!c.done);
    return out;
  }
  return [parseMailboxName(token, { utf8 })];
}

function parseGroup(token: ImapToken, utf8: boolean): EventGroup {
  if (token.type !== 'list') throw new ProtocolError('Expected an event group list');
  const c = new ArgCursor(token.items);
  const kind = c.keyword('filter').toLowerCase();
  let filter: NotifyFilter;
  if (kind === 'subtree' || kind === 'mailboxes') filter = { kind, names: mailboxes(c.next('mailboxes'), utf8) };
  else if (kind === 'selected' || kind === 'selected-delayed' || kind === 'inboxes' || kind === 'personal' || kind === 'subscribed') filter = { kind };
  else throw new ProtocolError(`Unknown NOTIFY filter: ${kind}`);
  const events = new Set<NotifyEvent>();
  const next = c.next('events');
  if (next.type === 'list') {
    const e = new ArgCursor(next.items);
    do {
      const name = e.keyword('event');
      if (!KNOWN_EVENTS.includes(name)) throw new ProtocolError(`Unknown NOTIFY event: ${name}`);
      if (name === 'MESSAGENEW' && e.peek()?.type === 'list') {
        e.next('fetch attributes');
        throw new BadEventError('MessageNew with fetch attributes is not supported');
      }
      const known = SUPPORTED_EVENTS.find((s) => s.toUpperCase() === name);
      if (!known) throw new BadEventError(`Event not supported: ${name}`);
      events.add(known);
    } while (!e.done);
  } else if (!(next.type === 'atom' && next.value.toUpperCase() === 'NONE')) {
    throw new ProtocolError('Expected an event list or NONE');
  }
  c.end();
  // RFC 5465 section 5: MessageNew and MessageExpunge go together, FlagChange needs both; mailbox events make
  // no sense for the selected mailbox.
  if (events.has('MessageNew') !== events.has('MessageExpunge')) throw new ProtocolError('MessageNew and MessageExpunge must be given together');
  if (events.has('FlagChange') && !events.has('MessageNew')) throw new ProtocolError('FlagChange needs MessageNew and MessageExpunge');
  if ((filter.kind === 'selected' || filter.kind === 'selected-delayed') && (events.has('MailboxName') || events.has('SubscriptionChange'))) {
    throw new ProtocolError('Mailbox events are not selected-mailbox events');
  }
  return { filter, events };
}

/** Parses NOTIFY's arguments; null for NOTIFY NONE. */
export function parseNotify(args: readonly ImapToken[], utf8: boolean): NotifySpec | null {
  const c = new ArgCursor(args);
  const verb = c.keyword('NOTIFY SET or NONE');
  if (verb === 'NONE') {
    c.end();
    return null;
  }
  if (verb !== 'SET') throw new ProtocolError('Expected SET or NONE');
  let status = false;
  if (c.peekAtom() === 'STATUS') {
    c.next('STATUS');
    status = true;
  }
  const groups: EventGroup[] = [];
  do groups.push(parseGroup(c.next('event group'), utf8));
  while (!c.done);
  if (groups.filter((g) => g.filter.kind === 'selected' || g.filter.kind === 'selected-delayed').length > 1) throw new ProtocolError('Only one selected-mailbox filter is allowed');
  return { status, groups };
}
