// A session's active NOTIFY (RFC 5465 sections 3 to 5): listens to the user's mailbox changes in this process and
// sends the selected mailbox's EXISTS/EXPUNGE/FETCH at once, a STATUS for other mailboxes in the filters, and
// LIST for created, deleted and renamed ones, always between commands or during IDLE.
import type { MailboxStatus, UserChangeEvent } from '../../../storage/api.js';
import { formatMailbox } from '../proto/response.js';
import type { ImapSessionApi } from '../types.js';
import type { EventGroup, NotifySpec } from './notify-spec.js';

/** The items of the STATUS responses NOTIFY sends (RFC 5465 section 5.2 to 5.4), as Dovecot sends them. */
const ITEMS = ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN'] as const;

function snapshot(st: MailboxStatus): string {
  return `${st.messages} ${st.uidNext} ${st.unseen}`;
}

const active = new WeakMap<ImapSessionApi, Notifier>();

export class Notifier {
  private stop: (() => void) | undefined;
  /** What the client last learnt of each mailbox, so that only real changes are sent. */
  private readonly known = new Map<string, string>();

  private constructor(
    private readonly s: ImapSessionApi,
    private readonly spec: NotifySpec,
  ) {}

  /** Replaces the session's NOTIFY (null: NOTIFY NONE). */
  static async set(s: ImapSessionApi, spec: NotifySpec | null): Promise<void> {
    active.get(s)?.close();
    active.delete(s);
    if (!spec) return;
    const n = new Notifier(s, spec);
    active.set(s, n);
    await n.start();
  }

  private async start(): Promise<void> {
    const storage = this.s.storage!;
    this.stop = storage.watchChanges((ev) => this.onChange(ev));
    const onClose = () => this.close();
    this.s.conn.once('close', onClose);
    const stopListening = this.stop;
    this.stop = () => {
      stopListening();
      this.s.conn.off('close', onClose);
    };
    // Remember where every watched mailbox stands now; with STATUS, tell the client too (RFC 5465 section 3.1).
    for (const m of await storage.listMailboxes()) {
      if (m.noSelect || m.name === this.s.selected?.name) continue;
      const group = await this.groupFor(m.name);
      if (!group || !(group.events.has('MessageNew') || group.events.has('FlagChange'))) continue;
      const st = await storage.status(m.name).catch(() => undefined);
      if (!st) continue;
      this.known.set(m.name, snapshot(st));
      if (this.spec.status) this.sendStatus(m.name, st);
    }
  }

  close(): void {
    this.stop?.();
    this.stop = undefined;
  }

  private selectedGroup(): EventGroup | undefined {
    return this.spec.groups.find((g) => g.filter.kind === 'selected' || g.filter.kind === 'selected-delayed');
  }

  /** The first non-selected filter that covers a mailbox (RFC 5465 section 6). */
  private async groupFor(name: string): Promise<EventGroup | undefined> {
    const sep = this.s.storage!.separator;
    let subscriptions: string[] | undefined;
    for (const g of this.spec.groups) {
      switch (g.filter.kind) {
        case 'inboxes':
          if (name === 'INBOX') return g;
          break;
        case 'personal':
          return g;
        case 'subscribed':
          subscriptions ??= await this.s.storage!.listSubscriptions();
          if (subscriptions.includes(name)) return g;
          break;
        case 'subtree':
          if (g.filter.names.some((n) => name === n || name.startsWith(n + sep))) return g;
          break;
        case 'mailboxes':
          if (g.filter.names.includes(name)) return g;
          break;
        default:
          break;
      }
    }
    return undefined;
  }

  private onChange(ev: UserChangeEvent): void {
    if (ev.kind === 'messages') {
      const box = this.s.selected;
      if (box && box.name === ev.mailbox) {
        const g = this.selectedGroup();
        if (!g?.events.has('MessageNew')) return;
        // SELECTED-DELAYED: EXPUNGE may not come at any time, so updates wait for IDLE or the next command.
        if (g.filter.kind === 'selected-delayed' && !this.s.idling) return;
        this.s.unsolicited(async () => {
          if (this.s.selected === box && this.s.state === 'selected') await box.announceChanges(this.s, { expunges: true });
        });
        return;
      }
      this.s.unsolicited(() => this.mailboxChanged(ev.mailbox));
      return;
    }
    // A client learns of its own CREATE/DELETE/RENAME from the command itself.
    if (ev.origin === this.s.storage) return;
    this.s.unsolicited(() => this.listChanged(ev));
  }

  private async mailboxChanged(name: string): Promise<void> {
    if (this.s.selected?.name === name) return;
    const group = await this.groupFor(name);
    if (!group) return;
    const st = await this.s.storage!.status(name).catch(() => undefined);
    if (!st) return;
    const before = this.known.get(name)?.split(' ').map(Number);
    const counts = group.events.has('MessageNew') && (!before || before[0] !== st.messages || before[1] !== st.uidNext);
    const flags = group.events.has('FlagChange') && (!before || before[2] !== st.unseen);
    if (!counts && !flags) return;
    this.known.set(name, snapshot(st));
    this.sendStatus(name, st);
  }

  private sendStatus(name: string, st: MailboxStatus): void {
    const values: Record<(typeof ITEMS)[number], number> = { MESSAGES: st.messages, UIDNEXT: st.uidNext, UIDVALIDITY: st.uidValidity, UNSEEN: st.unseen };
    this.s.untagged(`STATUS ${formatMailbox(name, { utf8: this.s.utf8Names })} (${ITEMS.map((i) => `${i} ${values[i]}`).join(' ')})`);
  }

  private async listChanged(ev: Exclude<UserChangeEvent, { kind: 'messages' }>): Promise<void> {
    const name = ev.kind === 'renamed' ? ev.to : ev.mailbox;
    const group = (await this.groupFor(name)) ?? (ev.kind === 'renamed' ? await this.groupFor(ev.from) : undefined);
    const sep = JSON.stringify(this.s.storage!.separator);
    const fmt = (n: string) => formatMailbox(n, { utf8: this.s.utf8Names });
    if (ev.kind === 'subscribed' || ev.kind === 'unsubscribed') {
      // RFC 5465 section 5.5: a LIST response with the new subscription state.
      if (group?.events.has('SubscriptionChange')) this.s.untagged(`LIST (${ev.kind === 'subscribed' ? '\\Subscribed' : ''}) ${sep} ${fmt(ev.mailbox)}`);
      return;
    }
    if (!group?.events.has('MailboxName')) return;
    if (ev.kind === 'created') this.s.untagged(`LIST () ${sep} ${fmt(ev.mailbox)}`);
    else if (ev.kind === 'deleted') {
      this.known.delete(ev.mailbox);
      this.s.untagged(`LIST (\\NonExistent) ${sep} ${fmt(ev.mailbox)}`);
    } else if (ev.kind === 'renamed') {
      this.known.delete(ev.from);
      // RFC 5465 section 5.4 with RFC 5258's OLDNAME extended data item.
      this.s.untagged(`LIST () ${sep} ${fmt(ev.to)} ("OLDNAME" (${fmt(ev.from)}))`);
    }
  }
}
