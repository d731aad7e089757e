// FETCH and UID FETCH (RFC 9051 section 6.4.5 and 7.5.2, RFC 3501 6.4.5, RFC 3516 BINARY, RFC 7162 CHANGEDSINCE, RFC 8514 SAVEDATE,
// RFC 8474 EMAILID/THREADID, RFC 8970 PREVIEW):
// Attributes in Dovecot's order (plain items as requested, then body sections), implicit \Seen, streamed literals;
// BODY[HEADER] from the index's cache once seen (as Dovecot's cache file answers it), responses written in batches.
import { parseFetchArgs, fetchItemName, type FetchArgs, type FetchAttribute } from '../proto/fetch-args.js';
import { formatDateTime } from '../proto/datetime.js';
import { ProtocolError } from '../proto/protocol-error.js';
import { no, ok, type Completion, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import type { ImapCommand } from '../proto/command-reader.js';
import type { SelectedMailbox } from '../selected.js';
import { isStorageError, type MessageContent, type MessageMeta } from '../../../storage/api.js';
import { clientFlags, formatFlagList } from '../fetch/client-flags.js';
import { cacheFetchStrings, cacheHeader, cachedHeader, loadFetchStrings, loadLayout, type CacheStore, type FetchStrings, type MessageLayout } from '../fetch/message-layout.js';
import { binarySection, binarySectionSize, bodySection, headerBytes, headerSection } from '../fetch/body-sections.js';
import { ResponseBatch, type ResponsePiece } from '../fetch/write-response.js';
import { enableCondstore } from '../condstore/condstore.js';
import { sendVanishedEarlier, vanishedSince } from '../condstore/qresync.js';
import { emailId, THREADID_NIL } from '../objectid/ids.js';
import { cachedPreview, formatPreview, LAZY_PREVIEW_MAX_BYTES, loadPreview } from '../fetch/preview.js';

/** Items sent after the plain ones, in request order, each a literal or a number (as Dovecot orders them). */
function isBodyItem(a: FetchAttribute): boolean {
  return a.kind === 'BODY[]' || a.kind === 'BINARY[]' || a.kind === 'BINARY.SIZE' || a.kind === 'RFC822' || a.kind === 'RFC822.HEADER' || a.kind === 'RFC822.TEXT';
}

/** Fetching these sets \Seen in a read-write mailbox (RFC 9051 section 6.4.5). */
function setsSeen(a: FetchAttribute): boolean {
  if (a.kind === 'BODY[]' || a.kind === 'BINARY[]') return !a.peek;
  return a.kind === 'RFC822' || a.kind === 'RFC822.TEXT';
}

/** What the command parses (layouts, FETCH strings, header bytes) is cached this many at a time (one index transaction each). */
const CACHE_BATCH = 500;

/** BODY[HEADER]<partial> and RFC822.HEADER of the whole message: answered from the cached header bytes. */
function isTopHeader(a: FetchAttribute): boolean {
  if (a.kind === 'RFC822.HEADER') return true;
  return a.kind === 'BODY[]' && a.section.part.length === 0 && a.section.text === 'HEADER';
}

/** Items answered from the cached FETCH strings alone. */
function needsStrings(a: FetchAttribute): boolean {
  return a.kind === 'ENVELOPE' || a.kind === 'BODY' || a.kind === 'BODYSTRUCTURE';
}

interface FetchPlan {
  plain: FetchAttribute[];
  body: FetchAttribute[];
  setSeen: boolean;
  /** The whole part tree is needed (body sections). */
  layout: boolean;
  strings: boolean;
  content: boolean;
  /** Every body item is the top-level header: the message is opened only when its header is not cached yet. */
  headerOnly: boolean;
}

function plan(args: FetchArgs, byUid: boolean, readOnly: boolean): FetchPlan {
  let plain = args.attributes.filter((a) => !isBodyItem(a));
  // UID FETCH answers with UID first, as Dovecot does.
  if (byUid) plain = [{ kind: 'UID' }, ...plain.filter((a) => a.kind !== 'UID')];
  const body = args.attributes.filter(isBodyItem);
  return {
    plain,
    body,
    setSeen: !readOnly && args.attributes.some(setsSeen),
    layout: body.length > 0,
    strings: args.attributes.some(needsStrings),
    content: body.length > 0,
    headerOnly: body.length > 0 && body.every(isTopHeader),
  };
}

function plainItem(s: ImapSessionApi, box: SelectedMailbox, msg: MessageMeta, a: FetchAttribute, strings: FetchStrings | undefined, preview?: string): string {
  switch (a.kind) {
    case 'PREVIEW':
      return formatPreview(preview, s.utf8Names);
    case 'FLAGS':
      return `FLAGS ${formatFlagList(clientFlags(s, box, msg))}`;
    case 'UID':
      return `UID ${msg.uid}`;
    case 'INTERNALDATE':
      return `INTERNALDATE "${formatDateTime(new Date(msg.internalDate))}"`;
    case 'RFC822.SIZE':
      return `RFC822.SIZE ${msg.size}`;
    case 'ENVELOPE':
      return `ENVELOPE ${strings!.envelope}`;
    case 'BODY':
      return `BODY ${strings!.body}`;
    case 'BODYSTRUCTURE':
      return `BODYSTRUCTURE ${strings!.bodyStructure}`;
    case 'MODSEQ':
      return `MODSEQ (${msg.modseq})`;
    case 'SAVEDATE':
      return `SAVEDATE "${formatDateTime(new Date(msg.saveDate))}"`;
    case 'EMAILID':
      return `EMAILID (${emailId(msg.guid)})`;
    case 'THREADID':
      return `THREADID ${THREADID_NIL}`;
    default:
      throw new Error(`not a plain fetch item: ${a.kind}`);
  }
}

/** The top-level header items from the header bytes (same bytes and names as bodyItem gives). */
function headerItem(a: FetchAttribute, header: Buffer): ResponsePiece[] {
  if (a.kind === 'RFC822.HEADER') return ['RFC822.HEADER ', headerSection(header)];
  if (a.kind !== 'BODY[]') throw new Error(`not a header fetch item: ${a.kind}`);
  return [`${fetchItemName(a)} `, headerSection(header, a.partial)];
}

async function bodyItem(box: SelectedMailbox, msg: MessageMeta, a: FetchAttribute, layout: MessageLayout, content: MessageContent): Promise<ResponsePiece[]> {
  switch (a.kind) {
    case 'RFC822':
      return ['RFC822 ', await bodySection(layout, content, { part: [] })];
    case 'RFC822.HEADER':
      return ['RFC822.HEADER ', await bodySection(layout, content, { part: [], text: 'HEADER' })];
    case 'RFC822.TEXT':
      return ['RFC822.TEXT ', await bodySection(layout, content, { part: [], text: 'TEXT' })];
    case 'BODY[]': {
      // Header field names are echoed upper-cased, as Dovecot does.
      const named = a.section.fields ? { ...a, section: { ...a.section, fields: a.section.fields.map((f) => f.toUpperCase()) } } : a;
      return [`${fetchItemName(named)} `, await bodySection(layout, content, a.section, a.partial)];
    }
    case 'BINARY[]':
      return [`${fetchItemName(a)} `, await binarySection(layout, content, a.part, a.partial)];
    case 'BINARY.SIZE':
      return [`${fetchItemName(a)} ${await binarySectionSize(box.mailbox, msg.uid, layout, content, a.part)}`];
    default:
      throw new Error(`not a body fetch item: ${a.kind}`);
  }
}

async function runFetch(s: ImapSessionApi, cmd: ImapCommand, byUid: boolean): Promise<Completion> {
  const args = parseFetchArgs(cmd.args, { uid: byUid });
  if (args.vanished && !s.enabled.has('QRESYNC')) throw new ProtocolError('VANISHED needs QRESYNC to be enabled');
  const box = s.selected!;
  let targets = box.resolve(args.sequence, byUid);
  // FETCH MODSEQ and CHANGEDSINCE are CONDSTORE enabling commands (RFC 7162 section 3.1).
  if (args.changedSince !== undefined || args.attributes.some((a) => a.kind === 'MODSEQ')) enableCondstore(s);
  if (args.changedSince !== undefined) targets = targets.filter((t) => BigInt(t.msg.modseq) > args.changedSince!);
  // UID FETCH ... (CHANGEDSINCE n VANISHED): the UIDs of the set expunged since n come first (RFC 7162 3.2.6).
  if (args.vanished) {
    const since = args.changedSince! > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(args.changedSince!);
    sendVanishedEarlier(s, vanishedSince(box, since, args.sequence));
  }
  const p = plan(args, byUid, box.readOnly);

  // Implicit \Seen first, so the FLAGS sent below already hold it (RFC 9051 section 6.4.5).
  const seenNow = new Set<number>();
  if (p.setSeen) {
    const unseen = targets.filter((t) => !t.msg.flags.includes('\\Seen')).map((t) => t.msg.uid);
    if (unseen.length) {
      const result = await box.mailbox.updateFlags(unseen, 'add', ['\\Seen']);
      for (const u of result.updated) seenNow.add(u.uid);
    }
  }

  let expunged = 0;
  const batch = new ResponseBatch(s);
  const toCache: { uid: number; key: string; value: unknown }[] = [];
  const store: CacheStore = (uid, key, value) => {
    toCache.push({ uid, key, value });
    if (toCache.length >= CACHE_BATCH) box.mailbox.setCachedMany(toCache.splice(0));
  };
  try {
    for (const { seq, msg: original } of targets) {
      const current = box.messages()[seq - 1];
      const msg = current && current.uid === original.uid ? current : original;
      const pieces: ResponsePiece[] = [];
      try {
        let header = p.headerOnly ? cachedHeader(box.mailbox, msg.uid) : undefined;
        const needContent = p.content && header === undefined;
        const content = needContent ? await box.mailbox.openMessage(msg.uid) : undefined;
        let layout = p.layout && needContent ? await loadLayout(box.mailbox, msg.uid, content, store) : undefined;
        if (p.headerOnly && header === undefined) {
          header = await headerBytes(layout!, content!);
          cacheHeader(store, msg.uid, header);
          // The next such FETCH answers from the cache alone: ENVELOPE, BODY and BODYSTRUCTURE too.
          if (p.strings) cacheFetchStrings(box.mailbox, msg.uid, layout!, store);
        }
        const strings = layout ?? (p.strings ? await loadFetchStrings(box.mailbox, msg.uid, content, store) : undefined);
        let preview: string | undefined;
        const previewAttr = p.plain.find((a) => a.kind === 'PREVIEW');
        if (previewAttr?.kind === 'PREVIEW') {
          preview = cachedPreview(box.mailbox, msg.uid);
          if (preview === undefined && (!previewAttr.lazy || msg.size <= LAZY_PREVIEW_MAX_BYTES)) {
            layout ??= await loadLayout(box.mailbox, msg.uid, content, store);
            preview = await loadPreview(box.mailbox, msg.uid, layout, async () => content ?? (await box.mailbox.openMessage(msg.uid)));
          }
        }
        const items = p.plain.map((a) => plainItem(s, box, msg, a, strings, preview));
        if (seenNow.has(msg.uid) && !p.plain.some((a) => a.kind === 'FLAGS')) {
          items.push(plainItem(s, box, msg, { kind: 'FLAGS' }, strings));
          // The implicit \Seen changed the modseq; with CONDSTORE on, the unsolicited FLAGS carry it (RFC 7162 3.1.4).
          if (s.enabled.has('CONDSTORE') && !p.plain.some((a) => a.kind === 'MODSEQ')) items.push(plainItem(s, box, msg, { kind: 'MODSEQ' }, strings));
        }
        pieces.push(`* ${seq} FETCH (${items.join(' ')}`);
        for (const a of p.body) {
          const piece = header !== undefined ? headerItem(a, header) : await bodyItem(box, msg, a, layout!, content!);
          pieces.push(items.length || pieces.length > 1 ? ' ' : '', ...piece);
        }
        pieces.push(')\r\n');
      } catch (err) {
        // Expunged by another session meanwhile: leave it out and say so (RFC 9051 section 7.1, EXPUNGEISSUED).
        if (isStorageError(err) && err.code === 'EXPUNGED') {
          expunged++;
          continue;
        }
        throw err;
      }
      await batch.add(pieces);
    }
  } finally {
    // Responses already made leave even when a later message fails the command.
    await batch.flush();
  }
  if (toCache.length) box.mailbox.setCachedMany(toCache);
  if (expunged > 0) return no('Some of the requested messages no longer exist.', 'EXPUNGEISSUED');
  return ok('Fetch completed.');
}

export const fetchCommand: ImapCommandSpec = {
  name: 'FETCH',
  states: ['selected'],
  deferExpunges: true,
  capabilities: () => ['BINARY', 'SAVEDATE', 'PREVIEW'],
  run: (s, cmd) => runFetch(s, cmd, false),
};

export const uidFetchCommand: ImapCommandSpec = {
  name: 'UID FETCH',
  states: ['selected'],
  run: (s, cmd) => runFetch(s, cmd, true),
};
