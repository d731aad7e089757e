// The selected state (RFC 9051 sections 6.3.2, 7.4, 7.5.1): a session's view of one mailbox, message-set
// resolution by sequence number or UID, and the untagged updates (EXPUNGE, EXISTS, FETCH FLAGS) after sync.
import type { MailboxSession, MessageMeta, SyncResult } from '../../storage/api.js';
import { SequenceSet } from '../../lib/sequence-set.js';
import { ProtocolError } from './proto/protocol-error.js';
import type { ImapSessionApi } from './types.js';

export const SYSTEM_FLAG_LIST = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

export interface ResolvedMessage {
  seq: number;
  msg: MessageMeta;
}

export class SelectedMailbox {
  /** Result of the last SEARCH ... RETURN (SAVE) (RFC 5182), as UIDs. */
  savedSearch: number[] = [];
  private changeListener: (() => void) | undefined;

  constructor(
    readonly mailbox: MailboxSession,
    readonly readOnly: boolean,
  ) {}

  get name(): string {
    return this.mailbox.name;
  }

  messages(): readonly MessageMeta[] {
    return this.mailbox.messages();
  }

  get exists(): number {
    return this.mailbox.messageCount();
  }

  /**
   * Flags as the client sees them (RFC 3501 section 2.3.2): system flags in a fixed order, then \Recent
   * for IMAP4rev1 sessions, then keywords, as Dovecot writes them.
   */
  flagsOf(s: ImapSessionApi, msg: MessageMeta): string[] {
    const system = SYSTEM_FLAG_LIST.filter((f) => msg.flags.includes(f));
    const keywords = msg.flags.filter((f) => !f.startsWith('\\'));
    const recent = !s.enabled.has('IMAP4REV2') && this.mailbox.recentUids().has(msg.uid) ? ['\\Recent'] : [];
    return [...system, ...recent, ...keywords];
  }

  /** Every flag and keyword in use, for the FLAGS and PERMANENTFLAGS responses. */
  knownFlags(): string[] {
    return [...SYSTEM_FLAG_LIST, ...this.mailbox.keywordsInUse()];
  }

  /**
   * Resolves a sequence set (or UID set) against the current view. A sequence number past EXISTS, or any
   * sequence set in an empty mailbox, is a BAD as in Dovecot (RFC 9051 section 6.4.4); UIDs that do not
   * exist are simply skipped. "$" is the saved search result (RFC 5182).
   */
  resolve(set: SequenceSet, byUid: boolean): ResolvedMessage[] {
    const msgs = this.mailbox.messages();
    const out: ResolvedMessage[] = [];
    if (set.saved) {
      const wanted = new Set(this.savedSearch);
      for (let i = 0; i < msgs.length; i++) if (wanted.has(msgs[i].uid)) out.push({ seq: i + 1, msg: msgs[i] });
      return out;
    }
    if (byUid) {
      const maxUid = msgs.length ? msgs[msgs.length - 1].uid : 0;
      for (let i = 0; i < msgs.length; i++) if (set.has(msgs[i].uid, maxUid)) out.push({ seq: i + 1, msg: msgs[i] });
      return out;
    }
    const exists = msgs.length;
    const outside = (n: number | '*'): boolean => (n === '*' ? exists === 0 : n > exists);
    if (set.ranges.some((r) => outside(r.start) || outside(r.end))) throw new ProtocolError('Invalid messageset');
    for (const n of set.values(exists)) out.push({ seq: n, msg: msgs[n - 1] });
    return out;
  }

  /**
   * Syncs the view and writes the untagged updates. With expunges false (after FETCH, STORE, SEARCH by sequence
   * number, RFC 9051 section 7.5.1) only flag changes are synced and told, so sequence numbers stay stable.
   */
  async announceChanges(s: ImapSessionApi, opts: { expunges: boolean }): Promise<SyncResult | undefined> {
    if (!opts.expunges) {
      this.announceFlags(s, await this.mailbox.syncFlags());
      return undefined;
    }
    const before = this.exists;
    const result = await this.mailbox.sync();
    for (const e of result.expunged) {
      if (s.enabled.has('QRESYNC')) continue;
      s.untagged(`${e.seq} EXPUNGE`);
    }
    if (s.enabled.has('QRESYNC') && result.expunged.length) {
      s.untagged(`VANISHED ${SequenceSet.fromNumbers(result.expunged.map((e) => e.uid)).toString()}`);
    }
    if (result.added.length || result.exists > before - result.expunged.length) {
      s.untagged(`${result.exists} EXISTS`);
      if (!s.enabled.has('IMAP4REV2')) s.untagged(`${result.recent} RECENT`);
    }
    this.announceFlags(s, result.flagsChanged);
    return result;
  }

  /** Untagged FETCH (FLAGS ...) for each flag change, with UID under QRESYNC and MODSEQ under CONDSTORE. */
  private announceFlags(s: ImapSessionApi, changes: SyncResult['flagsChanged']): void {
    for (const f of changes) {
      const msg = this.mailbox.messages()[f.seq - 1];
      const flags = msg ? this.flagsOf(s, msg) : f.flags;
      const uid = s.enabled.has('QRESYNC') ? `UID ${f.uid} ` : '';
      // Once CONDSTORE is enabled, unsolicited FETCH responses carry MODSEQ (RFC 7162 section 3.1.4).
      const modseq = s.enabled.has('CONDSTORE') ? ` MODSEQ (${msg ? msg.modseq : f.modseq})` : '';
      s.untagged(`${f.seq} FETCH (${uid}FLAGS (${flags.join(' ')})${modseq})`);
    }
  }

  /** Calls onChange whenever another session or process changed the mailbox (IDLE). */
  watch(onChange: () => void): void {
    this.unwatch();
    this.changeListener = onChange;
    this.mailbox.on('changes', onChange);
  }

  unwatch(): void {
    if (this.changeListener) this.mailbox.off('changes', this.changeListener);
    this.changeListener = undefined;
  }

  async close(): Promise<void> {
    this.unwatch();
    await this.mailbox.close();
  }
}
