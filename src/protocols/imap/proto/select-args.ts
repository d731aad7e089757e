// SELECT / EXAMINE arguments: mailbox and optional parameters CONDSTORE and QRESYNC.
// Implements RFC 9051 section 6.3.2 and section 9 (select, select-params), RFC 7162 section 3.1.8
// (CONDSTORE parameter) and section 3.2.5 (QRESYNC: uidvalidity modseq [known-uids] [seq-match-data]).
//
// Public API:
//   interface QresyncParams { uidValidity: number; modseq: bigint; knownUids?: SequenceSet;
//                             seqMatch?: { seqs: SequenceSet; uids: SequenceSet } }
//   interface SelectArgs { mailbox: string; condstore: boolean; qresync?: QresyncParams }
//   parseSelectArgs(args: readonly ImapToken[], opts: MailboxNameOptions): SelectArgs

import type { SequenceSet } from '../../../lib/sequence-set.js';
import { ArgCursor } from './arg-cursor.js';
import { parseSequenceSetToken } from './fetch-args.js';
import { parseMailboxName, type MailboxNameOptions } from './mailbox-name.js';
import { ProtocolError } from './protocol-error.js';
import type { ImapToken } from './tokens.js';

export interface QresyncParams {
  readonly uidValidity: number;
  readonly modseq: bigint;
  readonly knownUids?: SequenceSet;
  readonly seqMatch?: { readonly seqs: SequenceSet; readonly uids: SequenceSet };
}

export interface SelectArgs {
  readonly mailbox: string;
  readonly condstore: boolean;
  readonly qresync?: QresyncParams;
}

function parseQresync(cursor: ArgCursor): QresyncParams {
  const uidValidity = cursor.nzNumber('QRESYNC uidvalidity');
  const modseq = cursor.nzNumber64('QRESYNC modseq');
  let knownUids: SequenceSet | undefined;
  let seqMatch: QresyncParams['seqMatch'];
  if (cursor.peek()?.type === 'atom') {
    knownUids = parseSequenceSetToken(cursor.next('known UIDs'), 'known UIDs', { allowStar: false });
  }
  if (!cursor.done) {
    const m = cursor.list('sequence match data');
    const seqs = parseSequenceSetToken(m.next('known sequence set'), 'known sequence set', { allowStar: false });
    const uids = parseSequenceSetToken(m.next('known UID set'), 'known UID set', { allowStar: false });
    m.end();
    if (seqs.saved || uids.saved) throw new ProtocolError('"$" is not allowed in QRESYNC');
    seqMatch = { seqs, uids };
  }
  cursor.end();
  if (knownUids?.saved) throw new ProtocolError('"$" is not allowed in QRESYNC');
  return { uidValidity, modseq, ...(knownUids ? { knownUids } : {}), ...(seqMatch ? { seqMatch } : {}) };
}

export function parseSelectArgs(args: readonly ImapToken[], opts: MailboxNameOptions): SelectArgs {
  const cursor = new ArgCursor(args);
  const mailbox = parseMailboxName(cursor.next('mailbox name'), opts);
  let condstore = false;
  let qresync: QresyncParams | undefined;
  if (!cursor.done) {
    const params = cursor.list('select parameters');
    if (params.done) throw new ProtocolError('Empty select parameter list');
    while (!params.done) {
      const name = params.keyword('select parameter');
      if (name === 'CONDSTORE') {
        condstore = true;
      } else if (name === 'QRESYNC') {
        if (qresync) throw new ProtocolError('QRESYNC given twice');
        qresync = parseQresync(params.list('QRESYNC parameters'));
      } else {
        throw new ProtocolError(`Unknown select parameter ${name.slice(0, 40)}`);
      }
    }
  }
  cursor.end();
  return { mailbox, condstore, ...(qresync ? { qresync } : {}) };
}
