// LIST / LSUB arguments, with LIST-EXTENDED selection and return options and multiple patterns.
// Implements RFC 9051 section 6.3.9 and section 9 (list, list-select-opts, mbox-or-pat, list-return-opts),
// RFC 5258 (LIST-EXTENDED), RFC 5819 (LIST-STATUS), RFC 6154 (SPECIAL-USE), RFC 3501 6.3.9 (LSUB).
//
// Public API:
//   interface ListArgs { reference: string; patterns: string[]; extended: boolean;
//     selection: { subscribed; remote; recursiveMatch; specialUse: boolean };
//     returns: { subscribed; children; specialUse: boolean; status?: StatusItem[] } }
//   parseListArgs(args: readonly ImapToken[], opts: MailboxNameOptions): ListArgs
//   parseLsubArgs(args: readonly ImapToken[], opts: MailboxNameOptions): { reference: string; pattern: string }
//   Reference and patterns are decoded (modified UTF-7 or UTF-8) but not INBOX-folded; "%" and "*" kept.

import { ArgCursor, tokenAstringBytes } from './arg-cursor.js';
import { decodeMailboxText, type MailboxNameOptions } from './mailbox-name.js';
import { ProtocolError } from './protocol-error.js';
import { parseStatusItems, type StatusItem } from './status-args.js';
import type { ImapToken } from './tokens.js';

export interface ListSelection {
  readonly subscribed: boolean;
  readonly remote: boolean;
  readonly recursiveMatch: boolean;
  readonly specialUse: boolean;
}

export interface ListReturn {
  readonly subscribed: boolean;
  readonly children: boolean;
  readonly specialUse: boolean;
  readonly status?: readonly StatusItem[];
}

export interface ListArgs {
  readonly reference: string;
  readonly patterns: readonly string[];
  /** True when selection or return options were given (the reply may then use extended data). */
  readonly extended: boolean;
  readonly selection: ListSelection;
  readonly returns: ListReturn;
}

function listText(t: ImapToken, opts: MailboxNameOptions, what: string): string {
  if (t.type !== 'atom' && t.type !== 'string' && t.type !== 'literal' && t.type !== 'nil') throw new ProtocolError(`Invalid ${what}`);
  return decodeMailboxText(tokenAstringBytes(t, what), opts, what);
}

function parseSelection(cursor: ArgCursor): ListSelection {
  const sel = { subscribed: false, remote: false, recursiveMatch: false, specialUse: false };
  while (!cursor.done) {
    const name = cursor.keyword('selection option');
    switch (name) {
      case 'SUBSCRIBED':
        sel.subscribed = true;
        break;
      case 'REMOTE':
        sel.remote = true;
        break;
      case 'RECURSIVEMATCH':
        sel.recursiveMatch = true;
        break;
      case 'SPECIAL-USE':
        sel.specialUse = true;
        break;
      default:
        throw new ProtocolError(`Unknown LIST selection option ${name.slice(0, 40)}`);
    }
  }
  // RFC 5258 section 3.1: RECURSIVEMATCH needs another option that it can modify (REMOTE does not count)
  if (sel.recursiveMatch && !sel.subscribed && !sel.specialUse) {
    throw new ProtocolError('RECURSIVEMATCH needs another selection option');
  }
  return sel;
}

function parseReturn(cursor: ArgCursor): ListReturn {
  const ret: { subscribed: boolean; children: boolean; specialUse: boolean; status?: StatusItem[] } = {
    subscribed: false,
    children: false,
    specialUse: false,
  };
  while (!cursor.done) {
    const name = cursor.keyword('return option');
    switch (name) {
      case 'SUBSCRIBED':
        ret.subscribed = true;
        break;
      case 'CHILDREN':
        ret.children = true;
        break;
      case 'SPECIAL-USE':
        ret.specialUse = true;
        break;
      case 'STATUS':
        if (ret.status) throw new ProtocolError('STATUS return option given twice');
        ret.status = parseStatusItems(cursor.next('STATUS items'));
        break;
      default:
        throw new ProtocolError(`Unknown LIST return option ${name.slice(0, 40)}`);
    }
  }
  return ret;
}

export function parseListArgs(args: readonly ImapToken[], opts: MailboxNameOptions): ListArgs {
  const cursor = new ArgCursor(args);
  let extended = false;
  let selection: ListSelection = { subscribed: false, remote: false, recursiveMatch: false, specialUse: false };
  if (cursor.peek()?.type === 'list') {
    extended = true;
    selection = parseSelection(cursor.list('selection options'));
  }
  const reference = listText(cursor.next('reference'), opts, 'reference');
  const patternToken = cursor.next('mailbox pattern');
  let patterns: string[];
  if (patternToken.type === 'list') {
    extended = true;
    if (patternToken.items.length === 0) throw new ProtocolError('Empty mailbox pattern list');
    patterns = patternToken.items.map((t) => listText(t, opts, 'mailbox pattern'));
  } else {
    patterns = [listText(patternToken, opts, 'mailbox pattern')];
  }
  let returns: ListReturn = { subscribed: false, children: false, specialUse: false };
  if (!cursor.done) {
    if (cursor.keyword('RETURN') !== 'RETURN') throw new ProtocolError('Expected RETURN');
    extended = true;
    returns = parseReturn(cursor.list('return options'));
  }
  cursor.end();
  return { reference, patterns, extended, selection, returns };
}

export function parseLsubArgs(args: readonly ImapToken[], opts: MailboxNameOptions): { reference: string; pattern: string } {
  const cursor = new ArgCursor(args);
  const reference = listText(cursor.next('reference'), opts, 'reference');
  const pattern = listText(cursor.next('mailbox pattern'), opts, 'mailbox pattern');
  cursor.end();
  return { reference, pattern };
}
