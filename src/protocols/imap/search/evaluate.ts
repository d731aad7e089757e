// The SEARCH evaluator (RFC 9051 section 6.4.4, RFC 3501 6.4.4, RFC 5182 "$", RFC 7162 MODSEQ, RFC 5032 OLDER/YOUNGER,
// RFC 8514 SAVED*, RFC 8474 EMAILID/THREADID):
// runs a SearchKey tree over the selected mailbox, cheap keys first, loading parsed data only when a key needs it.
import type { SearchKey } from '../proto/search-args.js';
import type { ImapDate } from '../proto/datetime.js';
import type { SelectedMailbox } from '../selected.js';
import type { MessageContent, MessageMeta } from '../../../storage/api.js';
import { isStorageError } from '../../../storage/api.js';
import { loadLayout, type MessageLayout } from '../fetch/message-layout.js';
import { emailId } from '../objectid/ids.js';
import { foldCase, loadSearchBody, loadSearchHeaders, loadSearchPartHeaders, type SearchHeader } from './message-text.js';

export interface SearchMatch {
  seq: number;
  msg: MessageMeta;
}

export interface SearchOutcome {
  matches: SearchMatch[];
  /** Highest MODSEQ among the matches when the search used MODSEQ (RFC 7162 section 3.1.5). */
  highestModseq?: number;
}

/** What one message offers to the keys, loaded lazily and at most once per search. */
class MessageFacts {
  private content?: Promise<MessageContent>;
  private layout?: Promise<MessageLayout>;
  private headers?: Promise<SearchHeader[]>;
  private body?: Promise<string>;
  private partHeaders?: Promise<string>;

  constructor(
    private readonly box: SelectedMailbox,
    readonly seq: number,
    readonly msg: MessageMeta,
  ) {}

  private openContent = (): Promise<MessageContent> => (this.content ??= this.box.mailbox.openMessage(this.msg.uid));

  private loadLayout(): Promise<MessageLayout> {
    return (this.layout ??= loadLayout(this.box.mailbox, this.msg.uid));
  }

  searchHeaders(): Promise<SearchHeader[]> {
    return (this.headers ??= this.loadLayout().then((layout) => loadSearchHeaders(this.box.mailbox, this.msg.uid, layout, this.openContent)));
  }

  searchBody(): Promise<string> {
    return (this.body ??= this.loadLayout().then((layout) => loadSearchBody(this.box.mailbox, this.msg.uid, layout, this.openContent)));
  }

  searchPartHeaders(): Promise<string> {
    return (this.partHeaders ??= this.loadLayout().then((layout) => loadSearchPartHeaders(this.box.mailbox, this.msg.uid, layout, this.openContent)));
  }
}

function compareDay(day: ImapDate, wanted: ImapDate): number {
  return day.year - wanted.year || day.month - wanted.month || day.day - wanted.day;
}

function dateMatches(op: 'before' | 'on' | 'since', day: ImapDate, wanted: ImapDate): boolean {
  const c = compareDay(day, wanted);
  return op === 'before' ? c < 0 : op === 'on' ? c === 0 : c >= 0;
}

/** The internal date's calendar day in the server's zone, the zone INTERNALDATE is shown in. */
function internalDay(ms: number): ImapDate {
  const date = new Date(ms);
  return { year: date.getFullYear(), month: date.getMonth() + 1, day: date.getDate() };
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** The Date: header's calendar day as written, disregarding time and zone (RFC 9051 SENTON). */
function sentDay(raw: string): ImapDate | undefined {
  const m = /(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\.?\s+(\d{2,4})\b/.exec(raw.replace(/\([^)]*\)/g, ' '));
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return undefined;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  return { year, month: month + 1, day: Number(m[1]) };
}

/** Flags and keywords match without regard to case; the stored spelling is nearly always the asked one, so try that first. */
function hasFlag(msg: MessageMeta, flag: string): boolean {
  let lower: string | undefined;
  for (const f of msg.flags) {
    if (f === flag) return true;
    if (f.length === flag.length && f.toLowerCase() === (lower ??= flag.toLowerCase())) return true;
  }
  return false;
}

/** Keys answered from the message list alone, without reading the message. */
function isCheap(key: SearchKey): boolean {
  switch (key.type) {
    case 'header':
    case 'body':
    case 'text':
    case 'sentdate':
      return false;
    case 'and':
      return key.keys.every(isCheap);
    case 'or':
      return isCheap(key.left) && isCheap(key.right);
    case 'not':
      return isCheap(key.key);
    default:
      return true;
  }
}

function usesModseq(key: SearchKey): boolean {
  switch (key.type) {
    case 'modseq':
      return true;
    case 'and':
      return key.keys.some(usesModseq);
    case 'or':
      return usesModseq(key.left) || usesModseq(key.right);
    case 'not':
      return usesModseq(key.key);
    default:
      return false;
  }
}

class Evaluator {
  private readonly maxSeq: number;
  private readonly maxUid: number;
  private readonly saved: Set<number>;
  private readonly recent: ReadonlySet<number>;
  private readonly now = Date.now();

  constructor(private readonly box: SelectedMailbox) {
    const msgs = box.messages();
    this.maxSeq = msgs.length;
    this.maxUid = msgs.length ? msgs[msgs.length - 1]!.uid : 0;
    this.saved = new Set(box.savedSearch);
    this.recent = box.mailbox.recentUids();
  }

  /** Keys answered from the message list alone (isCheap), synchronously: a 100,000-message flag search awaits nothing. */
  cheapMatch(key: SearchKey, seq: number, msg: MessageMeta): boolean {
    switch (key.type) {
      case 'all':
      case 'savedatesupported':
        return true;
      case 'and':
        return key.keys.every((k) => this.cheapMatch(k, seq, msg));
      case 'or':
        return this.cheapMatch(key.left, seq, msg) || this.cheapMatch(key.right, seq, msg);
      case 'not':
        return !this.cheapMatch(key.key, seq, msg);
      case 'flag':
        return (key.flag === '\\Recent' ? this.recent.has(msg.uid) : hasFlag(msg, key.flag)) === key.set;
      case 'keyword':
        return hasFlag(msg, key.keyword) === key.set;
      case 'seqset':
        return key.set.saved ? this.saved.has(msg.uid) : key.set.has(seq, this.maxSeq);
      case 'uid':
        return key.set.saved ? this.saved.has(msg.uid) : key.set.has(msg.uid, this.maxUid);
      case 'size':
        return key.op === 'larger' ? msg.size > key.size : msg.size < key.size;
      case 'internaldate':
        return dateMatches(key.op, internalDay(msg.internalDate), key.date);
      case 'savedate':
        // Every store keeps a save date in the index, so SAVEDATESUPPORTED always holds (RFC 8514 section 4).
        return dateMatches(key.op, internalDay(msg.saveDate), key.date);
      case 'age': {
        const ageSeconds = (this.now - msg.internalDate) / 1000;
        return key.op === 'older' ? ageSeconds >= key.seconds : ageSeconds <= key.seconds;
      }
      case 'modseq':
        return BigInt(msg.modseq) >= key.modseq;
      case 'emailid':
        return emailId(msg.guid) === key.id;
      case 'threadid':
        return false;
      default:
        throw new Error(`search key ${key.type} needs the message`);
    }
  }

  async matches(key: SearchKey, f: MessageFacts): Promise<boolean> {
    if (isCheap(key)) return this.cheapMatch(key, f.seq, f.msg);
    switch (key.type) {
      case 'and': {
        // Cheap keys first, so that most messages never need to be read.
        const ordered = [...key.keys].sort((a, b) => Number(isCheap(b)) - Number(isCheap(a)));
        for (const k of ordered) if (!(await this.matches(k, f))) return false;
        return true;
      }
      case 'or':
        if (isCheap(key.right) && !isCheap(key.left)) return (await this.matches(key.right, f)) || this.matches(key.left, f);
        return (await this.matches(key.left, f)) || this.matches(key.right, f);
      case 'not':
        return !(await this.matches(key.key, f));
      case 'sentdate': {
        const date = (await f.searchHeaders()).find((h) => h.name === 'date');
        // No usable Date: header counts as the epoch, as Dovecot does (so SENTBEFORE matches it).
        const day = (date ? sentDay(date.raw) : undefined) ?? { year: 1970, month: 1, day: 1 };
        return dateMatches(key.op, day, key.date);
      }
      case 'header': {
        const name = key.field.toLowerCase();
        const wanted = foldCase(key.value);
        return (await f.searchHeaders()).some((h) => h.name === name && h.decoded.includes(wanted));
      }
      case 'body':
        return (await f.searchBody()).includes(foldCase(key.value));
      case 'text': {
        const wanted = foldCase(key.value);
        if ((await f.searchHeaders()).some((h) => h.name.includes(wanted) || h.decoded.includes(wanted))) return true;
        if ((await f.searchBody()).includes(wanted)) return true;
        return (await f.searchPartHeaders()).includes(wanted);
      }
      default:
        return this.cheapMatch(key, f.seq, f.msg);
    }
  }
}

/** Runs the search over the current view; messages expunged meanwhile by others simply do not match. */
export async function evaluateSearch(box: SelectedMailbox, key: SearchKey): Promise<SearchOutcome> {
  const evaluator = new Evaluator(box);
  const matches: SearchMatch[] = [];
  const msgs = box.messages();
  if (isCheap(key)) {
    for (let i = 0; i < msgs.length; i++) if (evaluator.cheapMatch(key, i + 1, msgs[i]!)) matches.push({ seq: i + 1, msg: msgs[i]! });
  } else {
    for (let i = 0; i < msgs.length; i++) {
      const facts = new MessageFacts(box, i + 1, msgs[i]!);
      try {
        if (await evaluator.matches(key, facts)) matches.push({ seq: i + 1, msg: msgs[i]! });
      } catch (err) {
        if (isStorageError(err) && err.code === 'EXPUNGED') continue;
        throw err;
      }
    }
  }
  if (!usesModseq(key) || matches.length === 0) return { matches };
  return { matches, highestModseq: matches.reduce((m, x) => Math.max(m, x.msg.modseq), 0) };
}
