// RFC 5322 / RFC 2045 lexical tokens (atoms, quoted strings, comments, MIME tokens, content-type and parameters)
// over byte strings (latin1-decoded JS strings, one char per byte), with Dovecot's rfc822-parser.c tolerance rules.

/** atext chars are 1, alpha/digit/8-bit are 2, atext-but-MIME-tspecial ('/', '=', '?') are 4. */
const ATEXT_TABLE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const row32 = [0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 4];
  const row48 = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 4, 0, 4];
  const row64 = [0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2];
  const row80 = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 1, 1];
  const row96 = [1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2];
  const row112 = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 0];
  [row32, row48, row64, row80, row96, row112].forEach((row, i) => row.forEach((v, j) => (t[32 + i * 16 + j] = v)));
  for (let i = 128; i < 256; i++) t[i] = 2;
  return t;
})();

export const isAtext = (c: number): boolean => ATEXT_TABLE[c]! !== 0;
export const isAtextNonTspecial = (c: number): boolean => (ATEXT_TABLE[c]! & 3) !== 0;

/** U+FFFD in UTF-8, as a byte string: what Dovecot writes for NULs inside quoted strings and parameters. */
export const NUL_REPLACEMENT = '\xef\xbf\xbd';

/** A cursor over a byte string, mirroring struct rfc822_parser_context. */
export class Rfc822Parser {
  pos: number;
  /** When set, the text of the last comment skipped (for "addr (Display Name)"). */
  lastComment: string | null;
  nulReplacement: string | null = null;

  constructor(
    readonly data: string,
    trackComments = false,
  ) {
    this.pos = 0;
    this.lastComment = trackComments ? '' : null;
  }

  get end(): number {
    return this.data.length;
  }
  get atEnd(): boolean {
    return this.pos >= this.data.length;
  }
  /** Current byte, or -1 at the end (Dovecot reads the NUL terminator there). */
  cur(): number {
    return this.pos < this.data.length ? this.data.charCodeAt(this.pos) : 0;
  }

  skipComment(): number {
    let level = 1;
    let start = ++this.pos;
    if (this.lastComment !== null) this.lastComment = '';
    for (; this.pos < this.end; this.pos++) {
      const c = this.data.charCodeAt(this.pos);
      if (c === 0x28) level++;
      else if (c === 0x29) {
        if (--level === 0) {
          if (this.lastComment !== null) this.lastComment += this.data.slice(start, this.pos);
          this.pos++;
          return this.pos < this.end ? 1 : 0;
        }
      } else if (c === 0x0a) {
        if (this.lastComment === null) continue;
        let len = this.pos - start;
        if (len > 0 && this.data.charCodeAt(start + len - 1) === 0x0d) len--;
        this.lastComment += this.data.slice(start, start + len);
        start = this.pos + 1;
      } else if (c === 0x5c) {
        this.pos++;
        if (this.pos >= this.end) return -1;
        const n = this.data.charCodeAt(this.pos);
        if (n === 0x0d || n === 0x0a || n === 0) {
          this.pos--;
          continue;
        }
        if (this.lastComment !== null) this.lastComment += this.data.slice(start, this.pos - 1);
        start = this.pos;
      } else if (c === 0 && this.lastComment !== null && this.nulReplacement !== null) {
        this.lastComment += this.data.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      }
    }
    return -1;
  }

  /** Skips whitespace, folding and comments: 1 = more data, 0 = at end, -1 = broken comment. */
  skipLwsp(): number {
    while (this.pos < this.end) {
      const c = this.data.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
        this.pos++;
        continue;
      }
      if (c !== 0x28) break;
      if (this.skipComment() < 0) return -1;
    }
    return this.pos < this.end ? 1 : 0;
  }

  parseAtom(out: { s: string }): number {
    if (this.pos >= this.end || !isAtext(this.cur())) return -1;
    const start = this.pos++;
    for (; this.pos < this.end; this.pos++) {
      if (isAtext(this.data.charCodeAt(this.pos))) continue;
      out.s += this.data.slice(start, this.pos);
      return this.skipLwsp();
    }
    out.s += this.data.slice(start, this.pos);
    return 0;
  }

  parseDotAtom(out: { s: string }): number {
    if (this.pos >= this.end || !isAtext(this.cur())) return -1;
    let start = this.pos++;
    while (this.pos < this.end) {
      if (isAtext(this.data.charCodeAt(this.pos))) {
        this.pos++;
        continue;
      }
      if (start === this.pos) return -1;
      out.s += this.data.slice(start, this.pos);
      let ret = this.skipLwsp();
      if (ret <= 0) return ret;
      if (this.cur() !== 0x2e) return 1;
      this.pos++;
      out.s += '.';
      ret = this.skipLwsp();
      if (ret <= 0) return -1;
      start = this.pos;
    }
    out.s += this.data.slice(start, this.pos);
    return 0;
  }

  parseMimeToken(out: { s: string }): number {
    const start = this.pos;
    for (; this.pos < this.end; this.pos++) {
      const c = this.data.charCodeAt(this.pos);
      if (isAtextNonTspecial(c) || c === 0x2e) continue;
      out.s += this.data.slice(start, this.pos);
      return this.skipLwsp();
    }
    out.s += this.data.slice(start, this.pos);
    return 0;
  }

  parseQuotedString(out: { s: string }): number {
    this.pos++;
    let start = this.pos;
    for (; this.pos < this.end; this.pos++) {
      const c = this.data.charCodeAt(this.pos);
      if (c === 0x22) {
        out.s += this.data.slice(start, this.pos);
        this.pos++;
        return this.skipLwsp();
      } else if (c === 0x0a) {
        let len = this.pos - start;
        if (len > 0 && this.data.charCodeAt(start + len - 1) === 0x0d) len--;
        out.s += this.data.slice(start, start + len);
        start = this.pos + 1;
      } else if (c === 0x5c) {
        this.pos++;
        if (this.pos >= this.end) return -1;
        const n = this.data.charCodeAt(this.pos);
        if (n === 0x0d || n === 0x0a || n === 0) {
          this.pos--;
          continue;
        }
        out.s += this.data.slice(start, this.pos - 1);
        start = this.pos;
      } else if (c === 0 && this.nulReplacement !== null) {
        out.s += this.data.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      }
    }
    return -1;
  }

  private parseAtomOrDot(out: { s: string }): number {
    const start = this.pos;
    for (; this.pos < this.end; this.pos++) {
      const c = this.data.charCodeAt(this.pos);
      if (isAtext(c) || c === 0x2e) continue;
      out.s += this.data.slice(start, this.pos);
      return this.skipLwsp();
    }
    out.s += this.data.slice(start, this.pos);
    return 0;
  }

  parsePhrase(out: { s: string }): number {
    if (this.pos >= this.end) return 0;
    if (this.cur() === 0x2e) return -1;
    for (;;) {
      const ret = this.cur() === 0x22 ? this.parseQuotedString(out) : this.parseAtomOrDot(out);
      if (ret <= 0) return ret;
      const c = this.cur();
      if (!isAtext(c) && c !== 0x22 && c !== 0x2e) break;
      out.s += ' ';
    }
    return this.skipLwsp();
  }

  private parseDomainLiteral(out: { s: string }): number {
    let start = this.pos++;
    for (; this.pos < this.end; this.pos++) {
      const c = this.data.charCodeAt(this.pos);
      if (c === 0x5b) return -1;
      if (c === 0x5d) {
        out.s += this.data.slice(start, this.pos + 1);
        this.pos++;
        return this.skipLwsp();
      }
      if (c === 0x0a) {
        let len = this.pos - start;
        if (len > 0 && this.data.charCodeAt(start + len - 1) === 0x0d) len--;
        out.s += this.data.slice(start, start + len);
        start = this.pos + 1;
      } else if (c === 0x5c) {
        this.pos++;
        if (this.pos >= this.end) return -1;
        const n = this.data.charCodeAt(this.pos);
        if (n === 0x0d || n === 0x0a || n === 0) {
          out.s += this.data.slice(start, this.pos);
          start = this.pos;
          this.pos--;
        }
      } else if (c === 0 && this.nulReplacement !== null) {
        out.s += this.data.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      }
    }
    return -1;
  }

  /** Parses "@domain" (the cursor is at '@'). */
  parseDomain(out: { s: string }): number {
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    return this.cur() === 0x5b ? this.parseDomainLiteral(out) : this.parseDotAtom(out);
  }

  /** "type/subtype", as rfc822_parse_content_type(): on failure the output is truncated (mostly). */
  parseContentType(out: { s: string }): number {
    const base = out.s.length;
    if (this.skipLwsp() <= 0) return -1;
    if (this.parseMimeToken(out) <= 0 || out.s.length === base) return -1;
    if (this.cur() !== 0x2f) {
      out.s = out.s.slice(0, base);
      return -1;
    }
    this.pos++;
    if (this.skipLwsp() <= 0) {
      out.s = out.s.slice(0, base);
      return -1;
    }
    out.s += '/';
    const subBase = out.s.length;
    const ret = this.parseMimeToken(out);
    if (ret < 0 || out.s.length === subBase || (this.pos !== this.end && this.cur() !== 0x3b)) {
      out.s = out.s.slice(0, base);
      return -1;
    }
    return ret;
  }

  /** One ";key=value" parameter: 0 = no more, 1 = got one, -1 = broken. */
  parseContentParam(): { ret: number; key: string | null; value: string } {
    const value = { s: '' };
    if (this.pos >= this.end) return { ret: 0, key: null, value: '' };
    if (this.cur() !== 0x3b) return { ret: -1, key: null, value: '' };
    this.pos++;
    if (this.skipLwsp() <= 0) return { ret: -1, key: null, value: '' };
    const key = { s: '' };
    if (this.parseMimeToken(key) <= 0) return { ret: -1, key: null, value: '' };
    if (this.cur() !== 0x3d) return { ret: -1, key: null, value: '' };
    this.pos++;
    let ret = this.skipLwsp();
    if (ret <= 0) {
      /* broken / no value */
    } else if (this.cur() === 0x22) {
      ret = this.parseQuotedString(value);
    } else if (this.pos < this.end && this.cur() === 0x3d) {
      while (this.pos < this.end) {
        const c = this.cur();
        if (c === 0x3b || c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) break;
        value.s += this.data[this.pos];
        this.pos++;
      }
    } else {
      ret = this.parseMimeToken(value);
    }
    return { ret: ret < 0 ? -1 : 1, key: key.s, value: value.s };
  }
}
