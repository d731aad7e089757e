// The SORT and THREAD keys of one mailbox's messages in memory (RFC 5256 sections 3 and 4, RFC 5957), shared by every
// session of the mailbox while its index is open, as Dovecot keeps sort IDs in its index: each message's keys are
// loaded once, strings are interned and ranked in code point order, and each key keeps every message in its order,
// so that a SORT by one key is a walk through that order (rebuilt once after messages were added).
import type { MessageMeta } from '../../../storage/api.js';
import { compareCodePoints } from './collate.js';
import { sortDate, type SortData } from './sort-data.js';

export type SortKeyName = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

const SURROGATE = /[\ud800-\udfff]/;

/** Interned strings with their rank in code point order (equal strings share an id, hence a rank). */
export class RankedStrings {
  /** id by string; made on the first intern after a restore */
  private idOf: Map<string, number> | undefined = new Map();
  strings: string[] = [];
  /** ids in code point order, for the strings ranked so far */
  private order: ArrayLike<number> = [];
  private ranks = new Uint32Array(0);
  /** Some string holds a surrogate: UTF-16 unit order then differs from code point order, so compare by code point. */
  private surrogates = false;

  /** Strings with their ids (their index) and their code point order as codePointOrder() gave it. */
  static restore(strings: string[], order: Uint32Array): RankedStrings {
    const r = new RankedStrings();
    r.strings = strings;
    r.idOf = undefined;
    r.surrogates = strings.some((s) => SURROGATE.test(s));
    const ranks = new Uint32Array(strings.length);
    for (let i = 0; i < order.length; i++) ranks[order[i]!] = i;
    r.order = order;
    r.ranks = ranks;
    return r;
  }

  intern(s: string): number {
    if (!this.idOf) {
      this.idOf = new Map();
      for (let id = 0; id < this.strings.length; id++) this.idOf.set(this.strings[id]!, id);
    }
    let id = this.idOf.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.idOf.set(s, id);
      if (!this.surrogates && SURROGATE.test(s)) this.surrogates = true;
    }
    return id;
  }

  /** Every id in code point order of its string. */
  codePointOrder(): ArrayLike<number> {
    this.rankTable();
    return this.order;
  }

  /** Rank of each string id; the strings added since the last call are sorted and merged in. */
  rankTable(): Uint32Array {
    const strings = this.strings;
    const n = strings.length;
    if (this.ranks.length === n) return this.ranks;
    // Without surrogates the built-in comparison (UTF-16 units) is code point order.
    const cmp = this.surrogates
      ? (a: number, b: number): number => compareCodePoints(strings[a]!, strings[b]!)
      : (a: number, b: number): number => {
          const x = strings[a]!;
          const y = strings[b]!;
          return x < y ? -1 : x > y ? 1 : 0;
        };
    const added: number[] = [];
    for (let id = this.order.length; id < n; id++) added.push(id);
    added.sort(cmp);
    const old = this.order;
    const merged = new Array<number>(n);
    let i = 0;
    let j = 0;
    for (let k = 0; k < n; k++) merged[k] = j >= added.length || (i < old.length && cmp(old[i]!, added[j]!) <= 0) ? old[i++]! : added[j++]!;
    const ranks = new Uint32Array(n);
    for (let r = 0; r < n; r++) ranks[merged[r]!] = r;
    this.order = merged;
    this.ranks = ranks;
    return ranks;
  }
}

/** The string keys: their SortData field, and their place in SortKeys.text / textIds. */
const TEXT_FIELDS = ['subject', 'from', 'to', 'cc', 'displayFrom', 'displayTo'] as const;
const TEXT_INDEX: Partial<Record<SortKeyName, number>> = { SUBJECT: 0, FROM: 1, TO: 2, CC: 3, DISPLAYFROM: 4, DISPLAYTO: 5 };

const REPLY_OR_FORWARD = 1;
const HAS_SUBJECT = 2;
const NO_REFERENCES: readonly string[] = Object.freeze([]);
const EXACT = 2 ** 53;
/** UIDs up to this many times the message count (plus a margin) find their slot through an array, else a Map. */
const DENSE_FACTOR = 4;
const DENSE_MARGIN = 65536;

/** The lowest and highest of the first n values. */
export function bounds(values: Float64Array, n: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

/** A key's messages in order: slots by (value, UID), and the value of each slot. */
export interface KeyOrder {
  order: Uint32Array;
  value: Float64Array;
}

/**
 * One mailbox's keys by slot, a message's place in the columns. A message's keys never change, so slots are only
 * added; what is derived from all of them (ranks, orders) is rebuilt when it is next needed after an add.
 */
export class SortKeys {
  private count = 0;
  private capacity = 0;
  /** slot + 1 by UID while UIDs are dense, else undefined and `sparse` holds the slots */
  private dense: Int32Array | undefined = new Int32Array(0);
  private sparse: Map<number, number> | undefined;
  private maxUid = 0;
  /** Slots were added in UID order (the usual case): the slot order is the UID order. */
  private ascending = true;
  uid = new Float64Array(0);
  /** ARRIVAL: INTERNALDATE in seconds */
  arrival = new Float64Array(0);
  size = new Float64Array(0);
  /** DATE: the sent date in seconds, else INTERNALDATE's */
  date = new Float64Array(0);
  text: RankedStrings[] = TEXT_FIELDS.map(() => new RankedStrings());
  readonly textIds: Uint32Array[] = TEXT_FIELDS.map(() => new Uint32Array(0));
  /** Per slot: REPLY_OR_FORWARD | HAS_SUBJECT */
  flags = new Uint8Array(0);
  /** THREAD's data per slot; undefined for a slot restored from a snapshot until it is read (see threadsPending). */
  readonly messageId: (string | null | undefined)[] = [];
  readonly references: (readonly string[] | undefined)[] = [];
  /** Slots came from a snapshot without their THREAD data, which is read when a THREAD first needs it. */
  threadsPending = false;
  private readonly orders = new Map<SortKeyName, KeyOrder & { count: number }>();
  private uidOrder: { count: number; rank: Float64Array } | undefined;
  /** How many slots the mailbox's snapshot in the index holds (see sort-snapshot.ts). */
  snapshotSlots = 0;
  /** The snapshot holds mostly messages expunged since: written again at the next chance, whatever the size. */
  snapshotStale = false;

  /** Number of messages (slots) held. */
  get slots(): number {
    return this.count;
  }

  slotOf(uid: number): number | undefined {
    if (this.dense) {
      const s = uid < this.dense.length ? this.dense[uid]! : 0;
      return s === 0 ? undefined : s - 1;
    }
    return this.sparse!.get(uid);
  }

  /** Adds a message's keys (once per UID: a second add returns the first slot). */
  add(msg: MessageMeta, data: SortData): number {
    const known = this.slotOf(msg.uid);
    if (known !== undefined) return known;
    const slot = this.newSlot(msg.uid);
    this.arrival[slot] = Math.floor(msg.internalDate / 1000);
    this.size[slot] = msg.size;
    this.date[slot] = sortDate(data, msg);
    for (let k = 0; k < TEXT_FIELDS.length; k++) this.textIds[k]![slot] = this.text[k]!.intern(data[TEXT_FIELDS[k]!]);
    this.flags[slot] = (data.replyOrForward ? REPLY_OR_FORWARD : 0) | (data.hasSubject ? HAS_SUBJECT : 0);
    this.setThreadData(slot, data);
    return slot;
  }

  setThreadData(slot: number, data: Pick<SortData, 'messageId' | 'references'>): void {
    this.messageId[slot] = data.messageId;
    this.references[slot] = data.references.length ? data.references : NO_REFERENCES;
  }

  hasThreadData(slot: number): boolean {
    return this.messageId[slot] !== undefined;
  }

  /** Room for this many messages without growing the columns one doubling at a time. */
  reserve(capacity: number): void {
    if (capacity > this.capacity) this.grow(capacity);
  }

  /** A slot for a UID not held yet; the caller fills its columns. */
  newSlot(uid: number): number {
    const slot = this.count;
    if (slot >= this.capacity) this.grow(Math.max(64, this.capacity * 2));
    this.index(uid, slot);
    if (slot > 0 && uid < this.uid[slot - 1]!) this.ascending = false;
    this.count = slot + 1;
    this.uid[slot] = uid;
    return slot;
  }

  private index(uid: number, slot: number): void {
    if (uid > this.maxUid) this.maxUid = uid;
    const n = slot + 1;
    const denseFits = this.maxUid <= DENSE_FACTOR * n + DENSE_MARGIN;
    if (this.dense && !denseFits) {
      this.sparse = new Map();
      for (let s = 0; s < slot; s++) this.sparse.set(this.uid[s]!, s);
      this.dense = undefined;
    } else if (!this.dense && denseFits && (n & (n - 1)) === 0) {
      // Checked again as the count doubles: expunges and new messages can make the UIDs dense again.
      this.dense = new Int32Array(this.maxUid + 1);
      for (let s = 0; s < slot; s++) this.dense[this.uid[s]!] = s + 1;
      this.sparse = undefined;
    }
    if (!this.dense) {
      this.sparse!.set(uid, slot);
      return;
    }
    if (uid >= this.dense.length) {
      const dense = new Int32Array(Math.max(uid + 1, this.dense.length * 2));
      dense.set(this.dense);
      this.dense = dense;
    }
    this.dense[uid] = slot + 1;
  }

  private grow(capacity: number): void {
    const widen = <T extends Float64Array | Uint32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.uid = widen(this.uid, (n) => new Float64Array(n));
    this.arrival = widen(this.arrival, (n) => new Float64Array(n));
    this.size = widen(this.size, (n) => new Float64Array(n));
    this.date = widen(this.date, (n) => new Float64Array(n));
    for (let k = 0; k < TEXT_FIELDS.length; k++) this.textIds[k] = widen(this.textIds[k]!, (n) => new Uint32Array(n));
    this.flags = widen(this.flags, (n) => new Uint8Array(n));
    this.capacity = capacity;
  }

  /** The per-slot column of a numeric key (ARRIVAL, SIZE, DATE); undefined for a string key. */
  column(key: SortKeyName): Float64Array | undefined {
    return key === 'ARRIVAL' ? this.arrival : key === 'SIZE' ? this.size : key === 'DATE' ? this.date : undefined;
  }

  /** A string key's string id per slot and the rank of each id. */
  textRanks(key: SortKeyName): { ids: Uint32Array; ranks: Uint32Array } {
    const k = TEXT_INDEX[key]!;
    return { ids: this.textIds[k]!, ranks: this.text[k]!.rankTable() };
  }

  /** Every slot's value under a key as a number: smaller sorts first, equal values are equal keys. */
  private values(key: SortKeyName): Float64Array {
    const column = this.column(key);
    if (column) return column;
    const { ids, ranks } = this.textRanks(key);
    const out = new Float64Array(this.count);
    for (let s = 0; s < this.count; s++) out[s] = ranks[ids[s]!]!;
    return out;
  }

  /** Each slot's place in UID order. */
  private uidRanks(): Float64Array {
    const n = this.count;
    if (this.uidOrder?.count === n) return this.uidOrder.rank;
    const rank = new Float64Array(n);
    if (this.ascending) for (let s = 0; s < n; s++) rank[s] = s;
    else {
      const bySlot = new Uint32Array(n);
      for (let s = 0; s < n; s++) bySlot[s] = s;
      const uid = this.uid;
      bySlot.sort((a, b) => uid[a]! - uid[b]!);
      for (let r = 0; r < n; r++) rank[bySlot[r]!] = r;
    }
    this.uidOrder = { count: n, rank };
    return rank;
  }

  /** Every slot ordered by a key, equal values by UID (so by sequence number in any view). */
  orderBy(key: SortKeyName): KeyOrder {
    const n = this.count;
    const kept = this.orders.get(key);
    if (kept?.count === n) return kept;
    const value = this.values(key);
    const uidRank = this.uidRanks();
    const [lo, hi] = bounds(value, n);
    const order = new Uint32Array(n);
    if (n > 0 && (hi - lo + 1) * n <= EXACT) {
      // (value, UID rank) folded into one exact integer: a plain numeric sort gives the order.
      const folded = new Float64Array(n);
      for (let s = 0; s < n; s++) folded[s] = (value[s]! - lo) * n + uidRank[s]!;
      folded.sort();
      const slotOfRank = new Uint32Array(n);
      for (let s = 0; s < n; s++) slotOfRank[uidRank[s]!] = s;
      for (let i = 0; i < n; i++) order[i] = slotOfRank[folded[i]! % n]!;
    } else {
      for (let s = 0; s < n; s++) order[s] = s;
      order.sort((a, b) => value[a]! - value[b]! || uidRank[a]! - uidRank[b]!);
    }
    const made = { count: n, order, value };
    this.orders.set(key, made);
    return made;
  }

  subject(slot: number): string {
    return this.text[0]!.strings[this.textIds[0]![slot]!]!;
  }

  /** Equal ids are equal base subjects. */
  subjectId(slot: number): number {
    return this.textIds[0]![slot]!;
  }

  /** The subject had Re:, Fwd: or similar (THREAD=REFERENCES step 5). */
  replyOrForward(slot: number): boolean {
    return (this.flags[slot]! & REPLY_OR_FORWARD) !== 0;
  }

  /** The message has a Subject field. */
  hasSubject(slot: number): boolean {
    return (this.flags[slot]! & HAS_SUBJECT) !== 0;
  }
}
