// Token model shared by the IMAP command reader and the typed argument parsers.
// Implements the value kinds of RFC 9051 section 4 (atom, string, literal, literal8, NIL, list) plus
// FETCH's bracketed section atoms (RFC 9051 section 6.4.5), as Dovecot's imap-parser sees them.
//
// Public API (types only, plus small helpers):
//   ImapToken, AtomToken, StringToken, LiteralToken, StreamedLiteralToken, NilToken, ListToken, SectionToken
//   LiteralSink: { write(chunk: Buffer): void; end(): void; abort(reason: string): void }
//   tokenKind(t: ImapToken): string          short human name for error texts
//   isStringLike(t): t is StringToken | LiteralToken | AtomToken

/** Receives the bytes of a literal streamed past the reader (APPEND of a large message). */
export interface LiteralSink {
  /** Called with each piece of literal data, in order. The chunk is a private copy. */
  write(chunk: Buffer): void;
  /** All announced bytes have arrived. */
  end(): void;
  /** The command failed (syntax error after the literal, connection closed, ...): drop what was written. */
  abort(reason: string): void;
}

export interface AtomToken {
  readonly type: 'atom';
  readonly value: string;
}
export interface StringToken {
  readonly type: 'string';
  readonly value: string;
}
export interface LiteralToken {
  readonly type: 'literal';
  readonly value: Buffer;
  readonly literal8: boolean;
}
export interface StreamedLiteralToken {
  readonly type: 'streamed-literal';
  readonly size: number;
  readonly literal8: boolean;
  readonly sink: LiteralSink;
}
export interface NilToken {
  readonly type: 'nil';
  /** The spelling the client used ("NIL", "nil", ...), for places where NIL is just an astring. */
  readonly raw: string;
}
export interface ListToken {
  readonly type: 'list';
  readonly items: readonly ImapToken[];
}
/**
 * `BODY[HEADER.FIELDS (A B)]<0.100>` reads as { name: 'BODY', items: [atom HEADER.FIELDS, list (A B)],
 * suffix: '<0.100>' }. Only BODY, BODY.PEEK, BINARY, BINARY.PEEK and BINARY.SIZE open a section, so
 * mailbox atoms such as `[Gmail]/Sent` stay plain atoms.
 */
export interface SectionToken {
  readonly type: 'section';
  /** Upper-cased keyword before "[". */
  readonly name: string;
  readonly items: readonly ImapToken[];
  /** Atom characters after "]" (a partial `<0.100>`), or ''. */
  readonly suffix: string;
}

export type ImapToken =
  | AtomToken
  | StringToken
  | LiteralToken
  | StreamedLiteralToken
  | NilToken
  | ListToken
  | SectionToken;

export function tokenKind(t: ImapToken): string {
  switch (t.type) {
    case 'streamed-literal':
      return 'literal';
    case 'section':
      return 'section';
    default:
      return t.type;
  }
}

export function isStringLike(t: ImapToken): t is StringToken | LiteralToken | AtomToken {
  return t.type === 'atom' || t.type === 'string' || t.type === 'literal';
}
