// Streaming MIME structure parser (RFC 5322 2.1-2.2, RFC 2045/2046 5.1 boundaries, message/rfc822 recursion) that
// reproduces Dovecot 2.3's message-parser.c: byte offsets, physical/virtual sizes and line counts, flags, part data.
import { Rfc822Parser } from './rfc822-tokens.js';
import { parseMimeParams } from './rfc2231.js';
import { applyContentHeader, applyEnvelopeHeader, emptyEnvelope, emptyPartData, type EnvelopeData, type HeaderField, type PartData } from './part-data.js';

export interface MessageSize {
  /** Bytes as stored. */
  physical: number;
  /** Bytes with every bare LF counted as CRLF (what IMAP clients see). */
  virtual: number;
  lines: number;
}

export interface MessagePart {
  /** IMAP section number ("" for the root of a message; "1", "1.2", ...). */
  section: string;
  /** Offset of the first header byte in the whole message. */
  physicalPos: number;
  headerSize: MessageSize;
  bodySize: MessageSize;
  multipart: boolean;
  multipartDigest: boolean;
  messageRfc822: boolean;
  text: boolean;
  isMime: boolean;
  hasNuls: boolean;
  /** MIME part limits were reached while parsing this part. */
  overflow: boolean;
  children: MessagePart[];
  data: PartData;
  parent: MessagePart | null;
}

export interface ParsedMessage {
  root: MessagePart;
  /** ENVELOPE data of the top-level header. */
  envelope: EnvelopeData;
  /** Total bytes parsed. */
  size: number;
}

export interface MessageParserOptions {
  maxNestedParts?: number;
  maxTotalParts?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const BOUNDARY_STRING_MAX_LEN = 80;
const BOUNDARY_END_MAX_LEN = BOUNDARY_STRING_MAX_LEN + 4;
/** An unterminated body line longer than this is accounted without waiting for its end. */
const PARTIAL_LINE_MIN = 128;
const HEADER_NAME_MAX_LEN = 1000;

interface Boundary {
  part: MessagePart;
  boundary: Buffer;
  epilogueFound: boolean;
}

const zeroSize = (): MessageSize => ({ physical: 0, virtual: 0, lines: 0 });

function newPart(parent: MessagePart | null, physicalPos: number): MessagePart {
  return {
    section: '',
    physicalPos,
    headerSize: zeroSize(),
    bodySize: zeroSize(),
    multipart: false,
    multipartDigest: false,
    messageRfc822: false,
    text: false,
    isMime: false,
    hasNuls: false,
    overflow: false,
    children: [],
    data: emptyPartData(),
    parent,
  };
}

const isLwsp = (c: number | undefined): boolean => c === 0x20 || c === 0x09;

type Mode = 'header' | 'body' | 'boundaryLine';

/**
 * Feed a message with write(chunk) in any chunking, then end() returns the part tree.
 * Memory stays bounded by the longest header line (body lines are not held).
 */
export class MessageParser {
  private readonly root: MessagePart;
  private part: MessagePart;
  private readonly envelope = emptyEnvelope();
  private mode: Mode = 'header';
  private boundaries: Boundary[] = []; // [0] is the newest
  private buffer: Buffer = Buffer.alloc(0);
  /** Absolute offset of buffer[0]. */
  private offset = 0;
  /** Where to resume looking for LF in buffer. */
  private scanFrom = 0;
  private atLineStart = true;
  private ended = false;
  private readonly maxNested: number;
  private readonly maxTotal: number;
  private nested = 0;
  private totalParts = 1;

  // header state
  private pendingField: { name: string; value: string; isFirstLineOnly: boolean } | null = null;
  private prevHeaderNewline = 0;
  private eohPending = false;
  private seenContentType = false;
  private lastBoundary: Buffer | null = null;
  private pendingMultipart = false;
  // body state
  /** The [CR]LF ending the previous body line, not yet given to the part (it belongs to a following boundary). */
  private pendingNewline = 0;

  constructor(options: MessageParserOptions = {}) {
    this.maxNested = options.maxNestedParts ?? 100;
    this.maxTotal = options.maxTotalParts ?? 10000;
    this.root = newPart(null, 0);
    this.part = this.root;
  }

  write(chunk: Uint8Array): void {
    if (this.ended) throw new Error('MessageParser: write after end');
    if (chunk.length === 0) return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    this.buffer = this.buffer.length === 0 ? buf : Buffer.concat([this.buffer, buf]);
    this.process(false);
  }

  end(): ParsedMessage {
    if (!this.ended) {
      this.ended = true;
      this.process(true);
      this.finishAll();
      assignSections(this.root, '');
    }
    return { root: this.root, envelope: this.envelope, size: this.offset };
  }

  // --- input splitting ----------------------------------------------------------------------------------

  private consume(n: number): Buffer {
    const piece = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    this.offset += n;
    this.scanFrom = 0;
    return piece;
  }

  private process(final: boolean): void {
    for (;;) {
      if (this.buffer.length === 0) return;
      const lf = this.buffer.indexOf(LF, this.scanFrom);
      if (lf >= 0) {
        const line = this.consume(lf + 1);
        this.handleLine(line, true);
        continue;
      }
      this.scanFrom = this.buffer.length;
      if (final) {
        const line = this.consume(this.buffer.length);
        this.handleLine(line, false);
        continue;
      }
      if (this.mode !== 'header' && this.buffer.length >= PARTIAL_LINE_MIN) {
        // Account a long unterminated body line now; keep a trailing CR, it may start the CRLF of a boundary.
        let n = this.buffer.length;
        if (this.buffer[n - 1] === CR) n--;
        const piece = this.consume(n);
        this.handlePartial(piece);
        continue;
      }
      return;
    }
  }

  /** A complete line (with its LF), or the final unterminated line at end of input. */
  private handleLine(line: Buffer, hasLf: boolean): void {
    if (this.mode === 'header') this.headerLine(line, hasLf);
    else if (this.mode === 'boundaryLine') this.boundaryLineRest(line, hasLf);
    else this.bodyLine(line, hasLf, this.atLineStart);
    this.atLineStart = hasLf;
  }

  /** A long piece of a body line without its end (only in body modes). */
  private handlePartial(piece: Buffer): void {
    if (this.mode === 'boundaryLine') {
      this.addBody(this.part, piece);
    } else {
      this.bodyLine(piece, false, this.atLineStart);
    }
    this.atLineStart = false;
  }

  // --- boundaries ---------------------------------------------------------------------------------------

  private boundaryFind(data: Buffer, findSize: number, trailingDashes: boolean): Boundary | null {
    let best: Boundary | null = null;
    for (const b of this.boundaries) {
      const len = b.boundary.length;
      if (len <= findSize && data.compare(b.boundary, 0, len, 2, 2 + len) === 0 && (best === null || best.boundary.length < len)) {
        best = b;
        if (len === findSize || (len === findSize - 2 && trailingDashes)) break;
      }
    }
    return best;
  }

  /** boundary_line_find(): is this line (starting at a line start) one of the active boundaries? */
  private boundaryLineFind(line: Buffer, hasLf: boolean): Boundary | null {
    if (this.boundaries.length === 0) return null;
    if (line.length < 2) return null;
    if (line[0] !== DASH || line[1] !== DASH) return null;
    if (this.totalParts >= this.maxTotal) {
      this.part.overflow = true;
      return null;
    }
    const size = line.length - 2;
    let findSize = size;
    let trailingDashes = false;
    if (hasLf) {
      findSize = size - 1;
      if (findSize > 0 && line[2 + findSize - 1] === CR) findSize--;
      if (findSize > 2 && line[2 + findSize - 1] === DASH && line[2 + findSize - 2] === DASH) trailingDashes = true;
    } else {
      findSize = Math.min(findSize, BOUNDARY_END_MAX_LEN);
    }
    const found = this.boundaryFind(line, findSize, trailingDashes);
    if (found === null) return null;
    const len = found.boundary.length;
    found.epilogueFound = size >= len + 2 && line[2 + len] === DASH && line[2 + len + 1] === DASH;
    return found;
  }

  // --- size accounting ----------------------------------------------------------------------------------

  private addBody(part: MessagePart, bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (bytes.indexOf(0) >= 0) part.hasNuls = true;
    let lines = 0;
    let missingCr = 0;
    let i = bytes.indexOf(LF);
    while (i >= 0) {
      lines++;
      if (i === 0 ? !this.prevWasCr : bytes[i - 1] !== CR) missingCr++;
      i = bytes.indexOf(LF, i + 1);
    }
    this.prevWasCr = bytes[bytes.length - 1] === CR;
    part.bodySize.physical += bytes.length;
    part.bodySize.virtual += bytes.length + missingCr;
    part.bodySize.lines += lines;
  }
  private prevWasCr = false;

  private addNewlineToBody(part: MessagePart, newlineLength: number): void {
    part.bodySize.physical += newlineLength;
    part.bodySize.virtual += 2;
    part.bodySize.lines++;
    this.prevWasCr = false;
  }

  // --- headers ------------------------------------------------------------------------------------------

  private headerLine(line: Buffer, hasLf: boolean): void {
    const part = this.part;
    if (this.eohPending) {
      // Dovecot looks for a boundary once more after the blank line: when one follows at once, the blank
      // line's [CR]LF belongs to that boundary, not to this header.
      this.eohPending = false;
      const boundary = this.boundaryLineFind(line, hasLf);
      if (boundary !== null && boundary.part !== part) this.moveHeaderNewlineToParent();
      this.endOfHeaders();
      if (this.mode === 'header') this.headerLine(line, hasLf);
      else this.bodyLine(line, hasLf, true);
      return;
    }
    const isEoh = hasLf && (line.length === 1 || (line.length === 2 && line[0] === CR));
    // A field is complete once a line that does not continue it arrives.
    if (isEoh || !isLwsp(line[0])) this.flushField();
    if (isEoh && this.lastBoundary !== null && part.isMime) {
      if (this.nested + 1 < this.maxNested) {
        this.boundaries.unshift({ part, boundary: this.lastBoundary, epilogueFound: false });
        this.lastBoundary = null;
        this.pendingMultipart = true;
      } else {
        part.overflow = true;
        part.multipart = false;
      }
    }
    if (!isLwsp(line[0])) {
      const boundary = this.boundaryLineFind(line, hasLf);
      if (boundary !== null && boundary.part !== part) {
        this.flushField();
        this.moveHeaderNewlineToParent();
        this.endOfHeaders();
        // The same line now starts the body (or the header of an enclosed message) and ends it at once.
        if (this.mode === 'header') this.headerLine(line, hasLf);
        else this.bodyLine(line, hasLf, true);
        return;
      }
    }
    if (line.indexOf(0) >= 0) part.hasNuls = true;
    if (isEoh) {
      this.flushField();
      part.headerSize.lines++;
      part.headerSize.physical += line.length;
      part.headerSize.virtual += 2;
      this.prevHeaderNewline = line.length;
      this.eohPending = true;
      return;
    }
    // account the line
    let contentEnd = line.length;
    let newline = 0;
    if (hasLf) {
      part.headerSize.lines++;
      contentEnd--;
      newline = 1;
      if (contentEnd > 0 && line[contentEnd - 1] === CR) {
        contentEnd--;
        newline = 2;
      }
      part.headerSize.virtual += line.length + (newline === 1 ? 1 : 0);
    } else {
      part.headerSize.virtual += line.length;
    }
    part.headerSize.physical += line.length;
    this.prevHeaderNewline = newline;
    const content = line.toString('latin1', 0, contentEnd);
    if (this.pendingField !== null && isLwsp(line[0])) {
      // continuation line: Dovecot adds "\n" only when the line has more than one byte
      if (content.length > 1) this.pendingField.value += '\n';
      this.pendingField.value += content;
      this.pendingField.isFirstLineOnly = false;
    } else {
      this.flushField();
      this.startField(content);
    }
    if (!hasLf) this.endOfHeaders();
  }

  /** The previous [CR]LF belongs to a boundary line: move it from this header to the parent's body. */
  private moveHeaderNewlineToParent(): void {
    const part = this.part;
    if (this.prevHeaderNewline === 0 || part.parent === null) return;
    part.headerSize.lines--;
    part.headerSize.physical -= this.prevHeaderNewline;
    part.headerSize.virtual -= 2;
    this.addNewlineToBody(part.parent, this.prevHeaderNewline);
  }

  private startField(content: string): void {
    const colon = content.indexOf(':');
    if (colon < 0) {
      this.pendingField = { name: '', value: content, isFirstLineOnly: true };
      return;
    }
    let value = content.slice(colon + 1);
    let pos = 0;
    while (pos < value.length && isLwsp(value.charCodeAt(pos))) pos++;
    if (pos === value.length && value.length > 0 && isLwsp(value.charCodeAt(0))) pos = 1;
    value = value.slice(pos);
    let nameEnd = colon;
    while (nameEnd > 0 && isLwsp(content.charCodeAt(nameEnd - 1))) nameEnd--;
    if (nameEnd > HEADER_NAME_MAX_LEN) {
      this.pendingField = { name: '', value: content, isFirstLineOnly: true };
      return;
    }
    const name = content.slice(0, nameEnd);
    this.pendingField = { name, value, isFirstLineOnly: true };
    const lower = name.toLowerCase();
    if (lower === 'mime-version' || lower === 'content-type') this.part.isMime = true;
  }

  private flushField(): void {
    const field = this.pendingField;
    if (field === null) return;
    this.pendingField = null;
    const part = this.part;
    const header: HeaderField = { name: field.name, value: field.value };
    const lower = field.name.toLowerCase();
    if (lower === 'content-type' && !this.seenContentType) {
      this.seenContentType = true;
      this.parseContentTypeFlags(header);
    }
    applyContentHeader(part.data, header);
    if (part.parent === null) applyEnvelopeHeader(this.envelope, header);
    else if (part.parent.messageRfc822) {
      if (part.data.envelope === null) part.data.envelope = emptyEnvelope();
      applyEnvelopeHeader(part.data.envelope, header);
    }
  }

  private parseContentTypeFlags(field: HeaderField): void {
    // message-parser.c parse_content_type(): flags from the "type/subtype" string as far as it parsed.
    const parser = new Rfc822Parser(field.value);
    parser.skipLwsp();
    const out = { s: '' };
    const ret = parser.parseContentType(out);
    const str = out.s.toLowerCase();
    const part = this.part;
    if (str === 'message/rfc822') part.messageRfc822 = true;
    else if (str.startsWith('text') && (str.length === 4 || str[4] === '/')) part.text = true;
    else if (str.startsWith('multipart/')) {
      part.multipart = true;
      if (str.slice(10) === 'digest') part.multipartDigest = true;
    }
    if (ret < 0 || !part.multipart || this.lastBoundary !== null) return;
    for (const p of parseMimeParams(parser)) {
      if (p.name.toLowerCase() === 'boundary') {
        this.lastBoundary = Buffer.from(p.value.slice(0, BOUNDARY_STRING_MAX_LEN), 'latin1');
        break;
      }
    }
  }

  private endOfHeaders(): void {
    this.eohPending = false;
    this.flushField();
    const part = this.part;
    if (!part.isMime) {
      part.multipart = part.multipartDigest = part.messageRfc822 = part.text = false;
      part.data = { ...emptyPartData(), envelope: part.data.envelope };
    }
    this.lastBoundary = null;
    if (!this.seenContentType || !part.isMime) {
      if (part.parent !== null && part.parent.multipartDigest) part.messageRfc822 = true;
      else part.text = true;
    }
    if (part.parent !== null && part.parent.messageRfc822 && part.data.envelope === null) part.data.envelope = emptyEnvelope();
    this.pendingNewline = 0;
    this.prevWasCr = false;
    if (this.pendingMultipart) {
      this.pendingMultipart = false;
      this.mode = 'body';
    } else if (!part.messageRfc822) {
      this.mode = 'body';
    } else if (this.nested + 1 < this.maxNested && this.totalParts < this.maxTotal) {
      this.appendChild(false);
    } else {
      part.overflow = true;
      part.messageRfc822 = false;
      this.mode = 'body';
    }
  }

  private appendChild(isMime: boolean): void {
    const parent = this.part;
    const child = newPart(parent, parent.physicalPos + parent.headerSize.physical + parent.bodySize.physical);
    child.isMime = isMime;
    parent.children.push(child);
    this.part = child;
    this.nested++;
    this.totalParts++;
    this.mode = 'header';
    this.pendingField = null;
    this.prevHeaderNewline = 0;
    this.eohPending = false;
    this.seenContentType = false;
    this.lastBoundary = null;
    this.pendingMultipart = false;
  }

  private finishPart(): void {
    const part = this.part;
    const parent = part.parent!;
    parent.bodySize.physical += part.bodySize.physical + part.headerSize.physical;
    parent.bodySize.virtual += part.bodySize.virtual + part.headerSize.virtual;
    parent.bodySize.lines += part.bodySize.lines + part.headerSize.lines;
    this.part = parent;
    this.nested--;
  }

  private finishAll(): void {
    if (this.mode === 'header') this.endOfHeaders();
    if (this.pendingNewline > 0) {
      this.addNewlineToBody(this.part, this.pendingNewline);
      this.pendingNewline = 0;
    }
    while (this.part.parent !== null) this.finishPart();
  }

  // --- bodies -------------------------------------------------------------------------------------------

  private bodyLine(line: Buffer, hasLf: boolean, atLineStart: boolean): void {
    if (atLineStart) {
      const boundary = this.boundaryLineFind(line, hasLf);
      if (boundary !== null) {
        this.partFinish(boundary, line, hasLf);
        return;
      }
      if (this.pendingNewline > 0) {
        this.addNewlineToBody(this.part, this.pendingNewline);
        this.pendingNewline = 0;
      }
    }
    if (hasLf && this.boundaries.length > 0) {
      // hold back the [CR]LF: if the next line is a boundary, it belongs to the boundary
      let contentEnd = line.length - 1;
      let newline = 1;
      if (contentEnd > 0 && line[contentEnd - 1] === CR) {
        contentEnd--;
        newline = 2;
      }
      this.addBody(this.part, line.subarray(0, contentEnd));
      this.pendingNewline = newline;
    } else {
      this.addBody(this.part, line);
    }
  }

  private partFinish(boundary: Boundary, line: Buffer, hasLf: boolean): void {
    while (this.part !== boundary.part) this.finishPart();
    const index = this.boundaries.indexOf(boundary);
    this.boundaries = this.boundaries.slice(boundary.epilogueFound ? index + 1 : index);
    const part = this.part;
    if (this.pendingNewline > 0) {
      this.addNewlineToBody(part, this.pendingNewline);
      this.pendingNewline = 0;
    }
    const delimiterLength = 2 + boundary.boundary.length + (boundary.epilogueFound ? 2 : 0);
    this.addBody(part, line.subarray(0, delimiterLength));
    this.mode = 'boundaryLine';
    this.boundaryLineRest(line.subarray(delimiterLength), hasLf);
  }

  /** The rest of a boundary line (through its LF) belongs to the multipart; then a new part or the epilogue. */
  private boundaryLineRest(rest: Buffer, hasLf: boolean): void {
    this.addBody(this.part, rest);
    if (!hasLf) return;
    if (this.boundaries.length === 0 || this.boundaries[0]!.part !== this.part) {
      this.mode = 'body';
        this.pendingNewline = 0;
    } else {
      this.appendChild(true);
    }
  }
}

function assignSections(part: MessagePart, section: string): void {
  part.section = section;
  if (part.multipart) {
    part.children.forEach((child, i) => {
      const childSection = section === '' ? String(i + 1) : `${section}.${i + 1}`;
      assignSections(child, childSection);
    });
  } else if (part.messageRfc822 && part.children.length > 0) {
    // The enclosed message's root shares the message/rfc822 part's number; its parts are numbered under it.
    const enclosed = part.children[0]!;
    assignEnclosed(enclosed, section === '' ? '1' : section);
  }
}

function assignEnclosed(root: MessagePart, section: string): void {
  root.section = section;
  if (root.multipart) {
    root.children.forEach((child, i) => assignSections(child, `${section}.${i + 1}`));
  } else if (root.messageRfc822 && root.children.length > 0) {
    assignEnclosed(root.children[0]!, `${section}.1`);
  }
}

/** Parses a whole message held in memory. */
export function parseMessage(message: Uint8Array, options?: MessageParserOptions): ParsedMessage {
  const parser = new MessageParser(options);
  parser.write(message);
  return parser.end();
}
