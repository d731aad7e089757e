// Resumable, streaming IMAP command reader: bytes in (any chunking), complete tagged commands out.
// Implements RFC 9051 sections 2.2, 4 and 9 (command, tag, atom, quoted, literal, literal8, list), RFC 7888
// (LITERAL+ / LITERAL-), RFC 4466 literal8, limits and error recovery after Dovecot's lib-imap/imap-parser.c.
//
// Public API:
//   new CommandReader(options?: CommandReaderOptions)
//   reader.push(chunk: Buffer): void        append received bytes (never parses by itself)
//   reader.next(): ReaderEvent | undefined   parse until one event is ready; undefined = needs more bytes
//   reader.readRawLine(): void               the next event is the next raw line ({ type: 'line' }), for
//                                            AUTHENTICATE continuations and IDLE's DONE; call between events
//   reader.configure(options): void          change limits (e.g. after login)
//   reader.takeBuffered(): Buffer            remove and return unparsed bytes (STARTTLS must discard them)
//   reader.bufferedBytes: number             bytes held but not yet parsed (pause the socket when large)
//   reader.close(): boolean                  connection gone: abort literal sinks; true if a command was
//                                            half-read
// Events (ReaderEvent):
//   { type: 'command', tag, name, args }     name upper-cased; "UID FETCH" etc. are joined into one name
//   { type: 'continue', tag, name, size, literal8 }  a synchronising literal was accepted: the session must
//                                            write "+ ..." now, then keep calling next()
//   { type: 'error', tag, name?, kind: 'BAD' | 'NO', code?, text, fatal? }  tag is null when unknown; the
//                                            reader has resynchronised (or will, skipping to the next line)
//   { type: 'line', text }                   after readRawLine(); CR/LF stripped
// Large literals: options.onLiteral(info) may return { sink } to receive the bytes as they arrive (the
// token becomes { type: 'streamed-literal', sink }) or { reject } to refuse it (a sync literal is refused
// without a continuation; a non-sync one is read and discarded first). Lines end in CRLF or a bare LF.

import type { ImapToken, LiteralSink, SectionToken } from './tokens.js';

export interface LiteralInfo {
  readonly tag: string;
  readonly name: string;
  /** Top-level arguments parsed so far (after tag and command name). */
  readonly args: readonly ImapToken[];
  /** 0 for a top-level argument, else the list/section depth the literal sits in. */
  readonly depth: number;
  readonly size: number;
  readonly literal8: boolean;
  readonly sync: boolean;
}

export interface LiteralRejection {
  readonly kind: 'BAD' | 'NO';
  readonly code?: string;
  readonly text: string;
}

export type LiteralDecision = { sink: LiteralSink } | { reject: LiteralRejection } | undefined;

export interface CommandReaderOptions {
  /** Longest command line, literal data excluded. Default 64 KiB. */
  maxLineLength?: number;
  /** Largest single literal. Default 50 MiB. */
  maxLiteralSize?: number;
  /** Most literal bytes one command may hold in memory (streamed literals excluded). Default maxLiteralSize. */
  maxBufferedLiteralBytes?: number;
  /** Deepest nesting of lists and sections. Default 100. */
  maxNestingDepth?: number;
  /** Which non-synchronising literals `{n+}` are accepted. Default 'LITERAL+'. */
  nonSyncLiterals?: 'LITERAL+' | 'LITERAL-' | 'none';
  /** Decide per literal: stream it to a sink, refuse it, or (undefined) buffer it. */
  onLiteral?: (info: LiteralInfo) => LiteralDecision;
}

export interface ImapCommand {
  readonly type: 'command';
  readonly tag: string;
  readonly name: string;
  readonly args: ImapToken[];
}

export interface ReaderError {
  readonly type: 'error';
  readonly tag: string | null;
  readonly name?: string;
  readonly kind: 'BAD' | 'NO';
  readonly code?: string;
  readonly text: string;
  /** The stream cannot be resynchronised; the session should send BYE and close. */
  readonly fatal?: boolean;
}

export interface ContinuationRequest {
  readonly type: 'continue';
  readonly tag: string;
  readonly name: string;
  readonly size: number;
  readonly literal8: boolean;
}

export interface RawLine {
  readonly type: 'line';
  readonly text: string;
}

export type ReaderEvent = ImapCommand | ReaderError | ContinuationRequest | RawLine;

/** LITERAL- (RFC 7888 section 4): non-synchronising literals up to this size only. */
export const LITERAL_MINUS_MAX = 4096;

const DEFAULTS = {
  maxLineLength: 64 * 1024,
  maxLiteralSize: 50 * 1024 * 1024,
  maxNestingDepth: 100,
  nonSyncLiterals: 'LITERAL+' as const,
};

/** Keywords whose "[" opens a FETCH section (RFC 9051 section 9: fetch-att, section, section-binary). */
const SECTION_KEYWORDS = new Set(['BODY', 'BODY.PEEK', 'BINARY', 'BINARY.PEEK', 'BINARY.SIZE']);

// Reader states.
const ST_TOKEN = 0; // between tokens
const ST_ATOM = 1;
const ST_QUOTED = 2;
const ST_TILDE = 3; // saw "~": literal8 or an atom
const ST_LITERAL_HEADER = 4; // inside "{...}"
const ST_LITERAL_EOL = 5; // after "}", expecting CRLF
const ST_LITERAL_DATA = 6;
const ST_SUFFIX = 7; // atom characters after a section's "]"
const ST_LINE_LF = 8; // saw CR between tokens, expecting LF
const ST_SKIP = 9; // error: discard to end of line (honouring non-sync literals)
const ST_DISCARD = 10; // discard announced literal bytes
const ST_RAW = 11; // raw line mode

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;

/** Bytes that may appear inside an atom as the reader sees it (RFC 9051 ATOM-CHAR plus list-wildcards,
 *  "\" for flags and "]" for ASTRING-CHAR; typed parsers narrow this further). */
const ATOM_BYTE = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) ATOM_BYTE[c] = 1;
for (const ch of '(){"') ATOM_BYTE[ch.charCodeAt(0)] = 0;

/** tag = 1*<any ASTRING-CHAR except "+"> */
function isValidTag(tag: string): boolean {
  if (tag.length === 0) return false;
  for (let i = 0; i < tag.length; i++) {
    const c = tag.charCodeAt(i);
    if (c <= SP || c >= 0x7f || '(){%*"\\+'.includes(tag[i]!)) return false;
  }
  return true;
}

function isValidCommandName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name);
}

interface ResolvedOptions {
  maxLineLength: number;
  maxLiteralSize: number;
  maxBufferedLiteralBytes: number;
  maxNestingDepth: number;
  nonSyncLiterals: 'LITERAL+' | 'LITERAL-' | 'none';
  onLiteral: CommandReaderOptions['onLiteral'];
}

interface Container {
  kind: 'top' | 'list' | 'section';
  items: ImapToken[];
  /** Section keyword, for kind 'section'. */
  name: string;
}

interface PendingLiteral {
  size: number;
  literal8: boolean;
  sync: boolean;
  received: number;
  data: Buffer | null;
  sink: LiteralSink | null;
}

export class CommandReader {
  private opts: ResolvedOptions;

  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private end = 0;
  private readonly ready: ReaderEvent[] = [];

  private state = ST_TOKEN;
  private stack: Container[] = [];
  private tokenStart = 0;
  private quotedEscape = false;
  private quoted8bit = false;
  private lineBytes = 0;
  private tag: string | null = null;
  private name: string | null = null;
  private literal8 = false;
  private literalSize = 0;
  private literalDigits = 0;
  private literalPlus = false;
  private literalClosed = false;
  private literalSawCR = false;
  private literal: PendingLiteral | null = null;
  private bufferedLiteralBytes = 0;
  private sinks: LiteralSink[] = [];
  private pendingSection: Container | null = null;
  private discardRemaining = 0;
  private deferredError: ReaderError | null = null;
  // Literal-header matcher used while skipping a failed line: 0 none, 1 digits, 2 "+", 3 "}", 4 "}\r".
  private skipLitState = 0;
  private skipLitSize = 0;
  private skipLitPlus = false;

  constructor(options: CommandReaderOptions = {}) {
    this.opts = { ...DEFAULTS, maxBufferedLiteralBytes: DEFAULTS.maxLiteralSize, onLiteral: undefined };
    this.configure(options);
    this.resetLine();
  }

  configure(options: CommandReaderOptions): void {
    const next: ResolvedOptions = { ...this.opts };
    if (options.maxLineLength !== undefined) next.maxLineLength = options.maxLineLength;
    if (options.maxNestingDepth !== undefined) next.maxNestingDepth = options.maxNestingDepth;
    if (options.nonSyncLiterals !== undefined) next.nonSyncLiterals = options.nonSyncLiterals;
    if (options.onLiteral !== undefined) next.onLiteral = options.onLiteral;
    if (options.maxLiteralSize !== undefined) {
      next.maxLiteralSize = options.maxLiteralSize;
      next.maxBufferedLiteralBytes = options.maxLiteralSize;
    }
    if (options.maxBufferedLiteralBytes !== undefined) next.maxBufferedLiteralBytes = options.maxBufferedLiteralBytes;
    this.opts = next;
  }

  get bufferedBytes(): number {
    return this.end - this.pos;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const keepFrom = this.keepFrom();
    const live = this.end - keepFrom;
    if (this.end + chunk.length > this.buf.length) {
      if (live + chunk.length <= this.buf.length && keepFrom > 0) {
        this.buf.copy(this.buf, 0, keepFrom, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(live + chunk.length, this.buf.length * 2, 4096));
        this.buf.copy(grown, 0, keepFrom, this.end);
        this.buf = grown;
      }
      this.pos -= keepFrom;
      this.tokenStart -= keepFrom;
      this.end = live;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  next(): ReaderEvent | undefined {
    if (this.ready.length === 0) {
      this.run();
      if (this.pos === this.end && this.keepFrom() === this.end && this.buf.length > 256 * 1024) {
        this.buf = Buffer.alloc(0); // drop a buffer grown by a burst once it is drained
        this.pos = this.end = this.tokenStart = 0;
      }
    }
    return this.ready.shift();
  }

  readRawLine(): void {
    if (this.state !== ST_TOKEN || this.stack.length !== 1 || this.stack[0]!.items.length !== 0 || this.lineBytes !== 0) {
      throw new Error('readRawLine() called in the middle of a command');
    }
    this.state = ST_RAW;
    this.tokenStart = this.pos;
  }

  takeBuffered(): Buffer {
    const rest = Buffer.from(this.buf.subarray(this.pos, this.end));
    this.pos = this.end;
    return rest;
  }

  close(): boolean {
    const partial =
      this.state !== ST_TOKEN || this.stack.length !== 1 || this.stack[0]!.items.length !== 0 || this.lineBytes !== 0;
    this.abortSinks('connection closed');
    this.ready.length = 0;
    this.buf = Buffer.alloc(0);
    this.pos = this.end = this.tokenStart = 0;
    this.resetLine();
    return partial;
  }

  // ---- internals ----

  private keepFrom(): number {
    switch (this.state) {
      case ST_ATOM:
      case ST_QUOTED:
      case ST_TILDE:
      case ST_SUFFIX:
      case ST_RAW:
        return Math.min(this.tokenStart, this.pos);
      default:
        return this.pos;
    }
  }

  private resetLine(): void {
    this.state = ST_TOKEN;
    this.stack = [{ kind: 'top', items: [], name: '' }];
    this.lineBytes = 0;
    this.tag = null;
    this.name = null;
    this.literal = null;
    this.bufferedLiteralBytes = 0;
    this.sinks = [];
    this.pendingSection = null;
  }

  private abortSinks(reason: string): void {
    for (const sink of this.sinks) {
      try {
        sink.abort(reason);
      } catch {
        // a failing sink must not break the reader
      }
    }
    this.sinks = [];
  }

  private makeError(text: string, kind: 'BAD' | 'NO' = 'BAD', code?: string): ReaderError {
    return {
      type: 'error',
      tag: this.tag,
      kind,
      text,
      ...(this.name !== null ? { name: this.name } : {}),
      ...(code !== undefined ? { code } : {}),
    };
  }

  /** Report an error for the current command; skip the rest of its line unless it already ended. */
  private fail(text: string, lineEnded = false, kind: 'BAD' | 'NO' = 'BAD', code?: string): void {
    this.abortSinks(text);
    this.ready.push(this.makeError(text, kind, code));
    if (lineEnded) {
      this.resetLine();
    } else {
      this.state = ST_SKIP;
      this.skipLitState = 0;
    }
  }

  /** Discard `size` announced literal bytes, then report the error and skip the rest of the line. */
  private failAfterDiscard(size: number, text: string, kind: 'BAD' | 'NO', code?: string): void {
    this.abortSinks(text);
    this.deferredError = this.makeError(text, kind, code);
    this.discardRemaining = size;
    this.state = ST_DISCARD;
    if (size === 0) this.finishDiscard();
  }

  private finishDiscard(): void {
    if (this.deferredError) {
      this.ready.push(this.deferredError);
      this.deferredError = null;
    }
    this.state = ST_SKIP;
    this.skipLitState = 0;
  }

  private countLineBytes(n: number): boolean {
    this.lineBytes += n;
    if (this.lineBytes > this.opts.maxLineLength) {
      this.fail('Too long command line');
      return false;
    }
    return true;
  }

  private get current(): Container {
    return this.stack[this.stack.length - 1]!;
  }

  private emit(token: ImapToken): void {
    const container = this.current;
    container.items.push(token);
    if (container.kind !== 'top') return;
    if (container.items.length === 1) {
      if (token.type !== 'atom' || !isValidTag(token.value)) {
        this.tag = null;
        this.fail('Invalid tag');
        return;
      }
      this.tag = token.value;
    } else if (container.items.length === 2) {
      if (token.type !== 'atom' || !isValidCommandName(token.value)) {
        this.fail('Invalid command name');
        return;
      }
      this.name = token.value.toUpperCase();
    }
  }

  private emitAtom(value: string): void {
    const top = this.stack.length === 1 && this.stack[0]!.items.length < 2;
    if (!top && value.length === 3 && value.toUpperCase() === 'NIL') this.emit({ type: 'nil', raw: value });
    else this.emit({ type: 'atom', value });
  }

  private openContainer(kind: 'list' | 'section', name: string): boolean {
    if (this.stack.length - 1 >= this.opts.maxNestingDepth) {
      this.fail('Too deep nesting');
      return false;
    }
    if (this.stack.length === 1 && this.stack[0]!.items.length < 2) {
      this.fail(this.tag === null ? 'Invalid tag' : 'Invalid command name');
      return false;
    }
    this.stack.push({ kind, items: [], name });
    return true;
  }

  private finishLine(): void {
    if (this.stack.length > 1) {
      this.fail(this.current.kind === 'list' ? "Missing ')'" : "Missing ']'", true);
      return;
    }
    const items = this.stack[0]!.items;
    if (items.length === 0) {
      this.resetLine(); // empty line: ignored, as Dovecot does
      return;
    }
    if (this.tag === null) {
      this.fail('Invalid tag', true);
      return;
    }
    if (items.length < 2 || this.name === null) {
      this.fail('Missing command name', true);
      return;
    }
    let name = this.name;
    let args = items.slice(2);
    const first = args[0];
    if (name === 'UID' && first && first.type === 'atom' && isValidCommandName(first.value)) {
      name = `UID ${first.value.toUpperCase()}`;
      args = args.slice(1);
    }
    this.ready.push({ type: 'command', tag: this.tag, name, args });
    this.sinks = [];
    this.resetLine();
  }

  private announceLiteral(): void {
    const size = this.literalSize;
    const sync = !this.literalPlus;
    const literal8 = this.literal8;
    if (this.tag === null || this.name === null) {
      if (sync) this.fail(this.tag === null ? 'Invalid tag' : 'Invalid command name', true);
      else this.failAfterDiscard(size, this.tag === null ? 'Invalid tag' : 'Invalid command name', 'BAD');
      return;
    }
    if (!sync && this.opts.nonSyncLiterals === 'none') {
      this.failAfterDiscard(size, 'Non-synchronizing literals are not supported', 'BAD');
      return;
    }
    if (!sync && this.opts.nonSyncLiterals === 'LITERAL-' && size > LITERAL_MINUS_MAX) {
      this.failAfterDiscard(size, 'Non-synchronizing literal larger than 4096 bytes', 'BAD', 'TOOBIG');
      return;
    }
    if (size > this.opts.maxLiteralSize) {
      if (sync) this.fail('Literal too big', true, 'NO', 'TOOBIG');
      else this.failAfterDiscard(size, 'Literal too big', 'NO', 'TOOBIG');
      return;
    }
    let sink: LiteralSink | null = null;
    if (this.opts.onLiteral) {
      const decision = this.opts.onLiteral({
        tag: this.tag,
        name: this.name,
        args: this.stack[0]!.items.slice(2),
        depth: this.stack.length - 1,
        size,
        literal8,
        sync,
      });
      if (decision && 'reject' in decision) {
        const r = decision.reject;
        if (sync) this.fail(r.text, true, r.kind, r.code);
        else this.failAfterDiscard(size, r.text, r.kind, r.code);
        return;
      }
      if (decision && 'sink' in decision) sink = decision.sink;
    }
    if (!sink) {
      if (this.bufferedLiteralBytes + size > this.opts.maxBufferedLiteralBytes) {
        if (sync) this.fail('Command too big', true, 'NO', 'TOOBIG');
        else this.failAfterDiscard(size, 'Command too big', 'NO', 'TOOBIG');
        return;
      }
      this.bufferedLiteralBytes += size;
    } else {
      this.sinks.push(sink);
    }
    this.literal = { size, literal8, sync, received: 0, data: sink ? null : Buffer.allocUnsafe(size), sink };
    this.state = ST_LITERAL_DATA;
    if (sync) this.ready.push({ type: 'continue', tag: this.tag, name: this.name, size, literal8 });
    if (size === 0) this.finishLiteral();
  }

  private finishLiteral(): void {
    const lit = this.literal!;
    this.literal = null;
    this.state = ST_TOKEN;
    if (lit.sink) {
      lit.sink.end();
      this.emit({ type: 'streamed-literal', size: lit.size, literal8: lit.literal8, sink: lit.sink });
    } else {
      this.emit({ type: 'literal', value: lit.data!, literal8: lit.literal8 });
    }
  }

  private finishSection(suffixEnd: number): void {
    const section = this.pendingSection!;
    this.pendingSection = null;
    const token: SectionToken = {
      type: 'section',
      name: section.name,
      items: section.items,
      suffix: this.buf.toString('latin1', this.tokenStart, suffixEnd),
    };
    this.state = ST_TOKEN;
    this.emit(token);
  }

  private run(): void {
    while (this.ready.length === 0 && this.pos < this.end) {
      const b = this.buf;
      switch (this.state) {
        case ST_TOKEN: {
          const c = b[this.pos]!;
          if (c === SP) {
            this.pos++;
            this.countLineBytes(1);
          } else if (c === CR) {
            this.pos++;
            this.state = ST_LINE_LF;
          } else if (c === LF) {
            this.pos++;
            this.finishLine();
          } else if (c === 0x28 /* ( */) {
            this.pos++;
            if (this.countLineBytes(1) && this.openContainer('list', '')) this.state = ST_TOKEN;
          } else if (c === 0x29 /* ) */) {
            this.pos++;
            if (!this.countLineBytes(1)) break;
            if (this.current.kind !== 'list') {
              this.fail("Unexpected ')'");
              break;
            }
            const list = this.stack.pop()!;
            this.emit({ type: 'list', items: list.items });
          } else if (c === 0x5d /* ] */ && this.current.kind === 'section') {
            this.pos++;
            if (!this.countLineBytes(1)) break;
            this.pendingSection = this.stack.pop()!;
            this.state = ST_SUFFIX;
            this.tokenStart = this.pos;
          } else if (c === 0x22 /* " */) {
            this.pos++;
            if (!this.countLineBytes(1)) break;
            this.state = ST_QUOTED;
            this.tokenStart = this.pos;
            this.quotedEscape = false;
            this.quoted8bit = false;
          } else if (c === 0x7b /* { */) {
            this.pos++;
            if (!this.countLineBytes(1)) break;
            this.beginLiteralHeader(false);
          } else if (c === 0x7e /* ~ */) {
            this.tokenStart = this.pos;
            this.pos++;
            if (!this.countLineBytes(1)) break;
            this.state = ST_TILDE;
          } else if (c === 0) {
            this.fail('NUL byte in command');
          } else if (ATOM_BYTE[c]) {
            this.tokenStart = this.pos;
            this.state = ST_ATOM;
          } else {
            this.fail(c >= 0x80 ? '8bit data in atom' : 'Invalid characters in atom');
          }
          break;
        }
        case ST_TILDE: {
          if (b[this.pos] === 0x7b) {
            this.pos++;
            if (this.countLineBytes(1)) this.beginLiteralHeader(true);
          } else {
            this.state = ST_ATOM; // "~" starts an ordinary atom; tokenStart already points at it
          }
          break;
        }
        case ST_ATOM:
          this.scanAtom();
          break;
        case ST_SUFFIX:
          this.scanSuffix();
          break;
        case ST_QUOTED:
          this.scanQuoted();
          break;
        case ST_LITERAL_HEADER:
          this.scanLiteralHeader();
          break;
        case ST_LITERAL_EOL: {
          const c = b[this.pos]!;
          this.pos++;
          if (c === LF) {
            this.announceLiteral();
          } else if (c === CR && !this.literalSawCR) {
            this.literalSawCR = true;
          } else {
            this.fail('Literal size must be followed by CRLF', c === LF);
          }
          break;
        }
        case ST_LITERAL_DATA: {
          const lit = this.literal!;
          const take = Math.min(this.end - this.pos, lit.size - lit.received);
          if (lit.sink) lit.sink.write(Buffer.from(b.subarray(this.pos, this.pos + take)));
          else b.copy(lit.data!, lit.received, this.pos, this.pos + take);
          lit.received += take;
          this.pos += take;
          if (lit.received === lit.size) this.finishLiteral();
          break;
        }
        case ST_LINE_LF: {
          if (b[this.pos] === LF) {
            this.pos++;
            this.finishLine();
          } else {
            this.fail('CR not followed by LF');
          }
          break;
        }
        case ST_SKIP:
          this.scanSkip();
          break;
        case ST_DISCARD: {
          const take = Math.min(this.end - this.pos, this.discardRemaining);
          this.pos += take;
          this.discardRemaining -= take;
          if (this.discardRemaining === 0) this.finishDiscard();
          break;
        }
        case ST_RAW:
          this.scanRawLine();
          break;
        default:
          throw new Error(`reader in unknown state ${this.state}`);
      }
    }
    if (this.state === ST_DISCARD && this.discardRemaining === 0 && this.ready.length === 0) this.finishDiscard();
  }

  private beginLiteralHeader(literal8: boolean): void {
    this.state = ST_LITERAL_HEADER;
    this.literal8 = literal8;
    this.literalSize = 0;
    this.literalDigits = 0;
    this.literalPlus = false;
    this.literalClosed = false;
    this.literalSawCR = false;
  }

  private scanLiteralHeader(): void {
    const b = this.buf;
    while (this.pos < this.end) {
      const c = b[this.pos]!;
      this.pos++;
      if (!this.countLineBytes(1)) return;
      if (c >= 0x30 && c <= 0x39 && !this.literalPlus) {
        if (this.literalDigits >= 15) {
          this.fail('Literal size too large');
          return;
        }
        this.literalSize = this.literalSize * 10 + (c - 0x30);
        this.literalDigits++;
      } else if (c === 0x2b /* + */ && this.literalDigits > 0 && !this.literalPlus) {
        this.literalPlus = true;
      } else if (c === 0x7d /* } */ && this.literalDigits > 0) {
        this.state = ST_LITERAL_EOL;
        return;
      } else {
        this.fail('Invalid literal size', c === LF);
        return;
      }
    }
  }

  private scanAtom(): void {
    const b = this.buf;
    const inSection = this.current.kind === 'section';
    let i = this.pos;
    while (i < this.end) {
      const c = b[i]!;
      if (c === SP || c === CR || c === LF || c === 0x29 || (c === 0x5d && inSection)) {
        if (!this.countLineBytes(i - this.pos)) return;
        this.pos = i;
        this.state = ST_TOKEN;
        this.emitAtom(b.toString('latin1', this.tokenStart, i));
        return;
      }
      if (c === 0x5b /* [ */) {
        const keyword = b.toString('latin1', this.tokenStart, i).toUpperCase();
        if (SECTION_KEYWORDS.has(keyword)) {
          if (!this.countLineBytes(i + 1 - this.pos)) return;
          this.pos = i + 1;
          this.state = ST_TOKEN;
          this.openContainer('section', keyword);
          return;
        }
      } else if (!ATOM_BYTE[c]) {
        this.countLineBytes(i - this.pos);
        if (this.state !== ST_ATOM) return;
        this.pos = i;
        this.fail(c === 0 ? 'NUL byte in command' : c >= 0x80 ? '8bit data in atom' : 'Invalid characters in atom');
        return;
      }
      i++;
    }
    if (this.countLineBytes(i - this.pos)) this.pos = i;
  }

  private scanSuffix(): void {
    const b = this.buf;
    const inSection = this.current.kind === 'section';
    let i = this.pos;
    while (i < this.end) {
      const c = b[i]!;
      if (c === SP || c === CR || c === LF || c === 0x29 || (c === 0x5d && inSection)) {
        if (!this.countLineBytes(i - this.pos)) return;
        this.pos = i;
        this.finishSection(i);
        return;
      }
      if (!ATOM_BYTE[c] || c === 0x5b) {
        this.countLineBytes(i - this.pos);
        if (this.state !== ST_SUFFIX) return;
        this.pos = i;
        this.fail(c === 0 ? 'NUL byte in command' : 'Invalid characters after section');
        return;
      }
      i++;
    }
    if (this.countLineBytes(i - this.pos)) this.pos = i;
  }

  private scanQuoted(): void {
    const b = this.buf;
    let i = this.pos;
    while (i < this.end) {
      const c = b[i]!;
      if (this.quotedEscape) {
        if (c !== 0x22 && c !== 0x5c) {
          this.countLineBytes(i - this.pos);
          if (this.state !== ST_QUOTED) return;
          this.pos = i;
          this.fail('Invalid escape in quoted string', false);
          return;
        }
        this.quotedEscape = false;
      } else if (c === 0x5c) {
        this.quotedEscape = true;
      } else if (c === 0x22) {
        if (!this.countLineBytes(i + 1 - this.pos)) return;
        let raw = b.subarray(this.tokenStart, i);
        if (raw.includes(0x5c)) raw = unescapeQuoted(raw);
        this.pos = i + 1;
        this.state = ST_TOKEN;
        this.emit({ type: 'string', value: raw.toString(this.quoted8bit ? 'utf8' : 'latin1') });
        return;
      } else if (c === CR || c === LF || c === 0) {
        this.countLineBytes(i - this.pos);
        if (this.state !== ST_QUOTED) return;
        this.pos = i;
        this.fail(c === 0 ? 'NUL byte in command' : "Missing '\"'");
        return;
      } else if (c >= 0x80) {
        this.quoted8bit = true;
      }
      i++;
    }
    if (this.countLineBytes(i - this.pos)) this.pos = i;
  }

  private scanSkip(): void {
    const b = this.buf;
    while (this.pos < this.end) {
      const c = b[this.pos]!;
      this.pos++;
      if (c === LF) {
        if (this.skipLitState >= 3 && this.skipLitPlus) {
          // a non-synchronising literal ends this piece of the line: its data follows, then the line goes on
          this.discardRemaining = this.skipLitSize;
          this.skipLitState = 0;
          this.state = ST_DISCARD;
          if (this.discardRemaining === 0) this.state = ST_SKIP;
          return;
        }
        this.resetLine();
        return;
      }
      switch (this.skipLitState) {
        case 1:
          if (c >= 0x30 && c <= 0x39 && this.skipLitSize < 1e15) this.skipLitSize = this.skipLitSize * 10 + (c - 0x30);
          else if (c === 0x2b) this.skipLitState = 2;
          else if (c === 0x7d) this.skipLitState = 3;
          else this.skipLitState = 0;
          break;
        case 2:
          this.skipLitState = c === 0x7d ? 3 : 0;
          break;
        case 3:
          this.skipLitState = c === CR ? 4 : 0;
          break;
        default:
          this.skipLitState = 0;
      }
      if (c === 0x7b) {
        this.skipLitState = 1;
        this.skipLitSize = 0;
        this.skipLitPlus = false;
      } else if (c === 0x2b && this.skipLitState === 2) {
        this.skipLitPlus = true;
      }
    }
  }

  private scanRawLine(): void {
    const b = this.buf;
    const lf = b.indexOf(LF, this.pos);
    const stop = lf < 0 || lf >= this.end ? this.end : lf;
    if (this.lineBytes + (stop - this.pos) > this.opts.maxLineLength) {
      this.pos = stop;
      this.fail('Too long line');
      return;
    }
    this.lineBytes += stop - this.pos;
    this.pos = stop;
    if (stop === this.end) return;
    let lineEnd = stop;
    if (lineEnd > this.tokenStart && b[lineEnd - 1] === CR) lineEnd--;
    const text = b.toString('utf8', this.tokenStart, lineEnd);
    this.pos = stop + 1;
    this.resetLine();
    this.ready.push({ type: 'line', text });
  }
}

function unescapeQuoted(raw: Buffer): Buffer {
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    let c = raw[i]!;
    if (c === 0x5c) c = raw[++i]!;
    out[n++] = c;
  }
  return out.subarray(0, n);
}
