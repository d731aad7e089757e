// A message's parsed MIME structure for FETCH and SEARCH (RFC 9051 sections 6.4.5 and 7.5.2): the src/mail part
// tree plus ENVELOPE, BODY and BODYSTRUCTURE strings and the BODY[HEADER] bytes, kept in the index's per-message cache.
import { MessageParser, writeBody, writeBodyStructure, writeEnvelope, type MessagePart, type ParsedMessage } from '../../../mail/index.js';
import type { MailboxSession, MessageContent } from '../../../storage/api.js';

export interface MessageLayout {
  parsed: ParsedMessage;
  /** FETCH values as byte strings (latin1), exactly as written on the wire. */
  envelope: string;
  body: string;
  bodyStructure: string;
  /** Some part holds NUL bytes (BODY[] output turns them into 0x80, as Dovecot does). */
  hasNuls: boolean;
}

/** The per-message cache key; bump the version when the cached shape changes. */
const CACHE_KEY = 'imap.layout.v1';
/** The FETCH strings alone, so ENVELOPE, BODY and BODYSTRUCTURE do not decode the whole part tree. */
const STRINGS_KEY = 'imap.fetch-strings.v1';

/**
 * The top-level header block as BODY[HEADER] sends it (CRLF, NULs as 0x80 where the message has any), so that
 * FETCH BODY.PEEK[HEADER] need not open the message, as Dovecot answers it from its cache file.
 */
const HEADER_KEY = 'imap.header.v1';
/** Larger header blocks are not cached (read from the message each time). */
export const CACHED_HEADER_MAX_BYTES = 64 * 1024;

/** The cached BODY[HEADER] bytes of the message, if cached. */
export function cachedHeader(mailbox: MailboxSession, uid: number): Buffer | undefined {
  const cached = mailbox.getCached(uid, HEADER_KEY);
  return Buffer.isBuffer(cached) ? cached : cached instanceof Uint8Array ? Buffer.from(cached.buffer, cached.byteOffset, cached.byteLength) : undefined;
}

/**
 * Where freshly parsed data goes: the index at once by default; a command working through many messages passes
 * one that gathers the entries and writes them with setCachedMany (one index transaction per batch, not per entry).
 */
export type CacheStore = (uid: number, key: string, value: unknown) => void;

function storeOf(mailbox: MailboxSession, store: CacheStore | undefined): CacheStore {
  return store ?? ((uid, key, value) => mailbox.setCached(uid, key, value));
}

/** Caches the BODY[HEADER] bytes of a message (unless they are too large to keep). */
export function cacheHeader(store: CacheStore, uid: number, header: Buffer): void {
  if (header.length <= CACHED_HEADER_MAX_BYTES) store(uid, HEADER_KEY, header);
}

/** ENVELOPE, BODY and BODYSTRUCTURE as written on the wire (latin1 byte strings). */
export interface FetchStrings {
  envelope: string;
  body: string;
  bodyStructure: string;
}

type StoredPart = Omit<MessagePart, 'parent' | 'children'> & { children: StoredPart[] };

function stripParents(part: MessagePart): StoredPart {
  const { parent: _parent, children, ...rest } = part;
  return { ...rest, children: children.map(stripParents) };
}

function restoreParents(part: StoredPart, parent: MessagePart | null): MessagePart {
  const restored = { ...part, parent, children: [] as MessagePart[] } as MessagePart;
  restored.children = part.children.map((c) => restoreParents(c, restored));
  return restored;
}

function anyNuls(part: MessagePart): boolean {
  return part.hasNuls || part.children.some(anyNuls);
}

interface StoredLayout {
  root: StoredPart;
  envelopeData: ParsedMessage['envelope'];
  size: number;
  envelope: string;
  body: string;
  bodyStructure: string;
}

function isStoredLayout(value: unknown): value is StoredLayout {
  const v = value as StoredLayout | null;
  return typeof v === 'object' && v !== null && typeof v.bodyStructure === 'string' && typeof v.root === 'object' && typeof v.size === 'number';
}

function fromStored(stored: StoredLayout): MessageLayout {
  const root = restoreParents(stored.root, null);
  return {
    parsed: { root, envelope: stored.envelopeData, size: stored.size },
    envelope: stored.envelope,
    body: stored.body,
    bodyStructure: stored.bodyStructure,
    hasNuls: anyNuls(root),
  };
}

/** Parses the message from its stream (memory bounded by the longest header line, not the message size). */
export async function parseLayout(content: MessageContent): Promise<MessageLayout> {
  const parser = new MessageParser();
  for await (const chunk of content.stream()) parser.write(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Buffer));
  const parsed = parser.end();
  return {
    parsed,
    envelope: writeEnvelope(parsed.envelope),
    body: writeBody(parsed.root),
    bodyStructure: writeBodyStructure(parsed.root),
    hasNuls: anyNuls(parsed.root),
  };
}

function isFetchStrings(value: unknown): value is FetchStrings {
  const v = value as FetchStrings | null;
  return typeof v === 'object' && v !== null && typeof v.envelope === 'string' && typeof v.body === 'string' && typeof v.bodyStructure === 'string';
}

/** The cached FETCH strings, else those of the (cached or freshly parsed) layout, which are then cached alone. */
export async function loadFetchStrings(mailbox: MailboxSession, uid: number, content?: MessageContent, store?: CacheStore): Promise<FetchStrings> {
  const cached = mailbox.getCached(uid, STRINGS_KEY);
  if (isFetchStrings(cached)) return cached;
  const { envelope, body, bodyStructure } = await loadLayout(mailbox, uid, content, store);
  const strings = { envelope, body, bodyStructure };
  storeOf(mailbox, store)(uid, STRINGS_KEY, strings);
  return strings;
}

/** Caches the FETCH strings of a layout loaded anyway, unless they are cached already (a later ENVELOPE need not decode the layout). */
export function cacheFetchStrings(mailbox: MailboxSession, uid: number, layout: MessageLayout, store?: CacheStore): void {
  if (isFetchStrings(mailbox.getCached(uid, STRINGS_KEY))) return;
  const { envelope, body, bodyStructure } = layout;
  storeOf(mailbox, store)(uid, STRINGS_KEY, { envelope, body, bodyStructure });
}

/** The cached layout, or a fresh parse that is then cached (a message never changes under its UID). */
export async function loadLayout(mailbox: MailboxSession, uid: number, content?: MessageContent, store?: CacheStore): Promise<MessageLayout> {
  const cached = mailbox.getCached(uid, CACHE_KEY);
  if (isStoredLayout(cached)) return fromStored(cached);
  const layout = await parseLayout(content ?? (await mailbox.openMessage(uid)));
  const stored: StoredLayout = {
    root: stripParents(layout.parsed.root),
    envelopeData: layout.parsed.envelope,
    size: layout.parsed.size,
    envelope: layout.envelope,
    body: layout.body,
    bodyStructure: layout.bodyStructure,
  };
  storeOf(mailbox, store)(uid, CACHE_KEY, stored);
  return layout;
}
