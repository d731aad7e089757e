// RFC 5322 3.4 address lists (mailbox, name-addr, route-addr, groups, obs- syntax) parsed as Dovecot's
// message-address.c does for ENVELOPE (FILL_MISSING: MISSING_MAILBOX / MISSING_DOMAIN / INVALID_ROUTE / SYNTAX_ERROR).
import { Rfc822Parser, NUL_REPLACEMENT, isAtext } from './rfc822-tokens.js';

/** One address, or a group marker: group start has mailbox = group name and domain null; group end is all null. */
export interface MessageAddress {
  name: string | null;
  route: string | null;
  mailbox: string | null;
  domain: string | null;
  invalidSyntax: boolean;
}

const emptyAddress = (): MessageAddress => ({ name: null, route: null, mailbox: null, domain: null, invalidSyntax: false });

class AddressParser {
  readonly parser: Rfc822Parser;
  addr: MessageAddress = emptyAddress();
  readonly out: MessageAddress[] = [];
  str = { s: '' };

  constructor(
    data: string,
    readonly fillMissing: boolean,
  ) {
    this.parser = new Rfc822Parser(data, true);
    this.parser.nulReplacement = NUL_REPLACEMENT;
  }

  add(): void {
    this.out.push(this.addr);
    this.addr = emptyAddress();
  }

  parseNonstrictDotAtom(): number {
    const p = this.parser;
    let ret = -1;
    do {
      while (p.cur() === 0x2e && p.pos < p.end) {
        this.str.s += '.';
        p.pos++;
        if (p.pos === p.end) return 0;
        ret = 1;
      }
      if (p.cur() === 0x40) break;
      ret = p.parseAtom(this.str);
    } while (ret > 0 && p.cur() === 0x2e);
    return ret;
  }

  parseLocalPart(): number {
    const p = this.parser;
    this.str = { s: '' };
    let ret: number;
    if (p.cur() === 0x22) ret = p.parseQuotedString(this.str);
    else ret = this.parseNonstrictDotAtom();
    if (ret < 0) return -1;
    this.addr.mailbox = this.str.s;
    return ret;
  }

  parseDomain(): number {
    this.str = { s: '' };
    const ret = this.parser.parseDomain(this.str);
    if (ret < 0) return -1;
    this.addr.domain = this.str.s;
    return ret;
  }

  parseDomainList(): number {
    const p = this.parser;
    this.str = { s: '' };
    for (;;) {
      if (p.pos >= p.end) return 0;
      if (p.cur() !== 0x40) break;
      if (this.str.s.length > 0) this.str.s += ',';
      this.str.s += '@';
      const ret = p.parseDomain(this.str);
      if (ret <= 0) return ret;
      while (p.skipLwsp() > 0 && p.cur() === 0x2c) p.pos++;
    }
    this.addr.route = this.str.s;
    return 1;
  }

  parseAngleAddr(): number {
    const p = this.parser;
    p.pos++;
    if (p.skipLwsp() <= 0) return -1;
    if (p.cur() === 0x40) {
      if (this.parseDomainList() > 0 && p.cur() === 0x3a) {
        p.pos++;
      } else {
        if (this.fillMissing) this.addr.route = 'INVALID_ROUTE';
        if (p.pos >= p.end) return -1;
      }
      if (p.skipLwsp() <= 0) return -1;
    }
    if (p.cur() === 0x3e) {
      /* <> address isn't valid */
    } else {
      if (this.parseLocalPart() <= 0) return -1;
      if (p.cur() === 0x40) {
        if (this.parseDomain() <= 0) return -1;
      }
    }
    if (p.cur() !== 0x3e) return -1;
    p.pos++;
    return p.skipLwsp();
  }

  parseNameAddr(): number {
    const p = this.parser;
    this.str = { s: '' };
    if (p.parsePhrase(this.str) <= 0 || p.cur() !== 0x3c) return -1;
    this.addr.name = this.str.s === '' ? null : this.str.s;
    if (this.parseAngleAddr() < 0) {
      if (this.fillMissing) this.addr.domain = 'SYNTAX_ERROR';
      this.addr.invalidSyntax = true;
    }
    return p.pos < p.end ? 1 : 0;
  }

  parseAddrSpec(): number {
    const p = this.parser;
    let ret2 = -2;
    p.lastComment = '';
    const quotedString = p.cur() === 0x22;
    let ret = this.parseLocalPart();
    if (ret <= 0) this.addr.invalidSyntax = true;
    if (ret !== 0 && p.pos < p.end && p.cur() === 0x40) {
      ret2 = this.parseDomain();
      if (ret2 <= 0) ret = ret2;
    }
    if (p.lastComment !== null && p.lastComment.length > 0) {
      this.addr.name = p.lastComment;
    } else if (ret2 === -2) {
      this.str.s += ' ';
      const origLen = this.str.s.length;
      p.parsePhrase(this.str);
      if (this.str.s.length !== origLen) {
        this.addr.mailbox = null;
        this.addr.name = this.str.s;
      } else if (!quotedString) {
        this.addr.domain = '';
      }
      this.addr.invalidSyntax = true;
      ret = -1;
    }
    return ret;
  }

  addFixed(): void {
    if (this.addr.mailbox === null) {
      this.addr.mailbox = this.fillMissing ? 'MISSING_MAILBOX' : '';
      this.addr.invalidSyntax = true;
    }
    if (this.addr.domain === null || this.addr.domain === '') {
      this.addr.domain = this.fillMissing ? 'MISSING_DOMAIN' : '';
      this.addr.invalidSyntax = true;
    }
    this.add();
  }

  parseMailbox(): number {
    const p = this.parser;
    const start = p.pos;
    let ret = this.parseNameAddr();
    if (ret < 0) {
      p.pos = start;
      ret = this.parseAddrSpec();
      if (this.addr.invalidSyntax && this.addr.name === null && this.addr.mailbox !== null && this.addr.domain === null) {
        this.addr.name = this.addr.mailbox;
        this.addr.mailbox = null;
      }
    }
    if (ret < 0) this.addr.invalidSyntax = true;
    this.addFixed();
    return ret;
  }

  parseGroup(): number {
    const p = this.parser;
    this.str = { s: '' };
    if (p.parsePhrase(this.str) <= 0 || p.cur() !== 0x3a) return -1;
    p.pos++;
    let ret = p.skipLwsp();
    if (ret <= 0) this.addr.invalidSyntax = true;
    this.addr.mailbox = this.str.s;
    this.add();
    if (ret > 0 && p.cur() !== 0x3b) {
      for (;;) {
        this.parseMailbox();
        if (p.pos >= p.end || p.cur() !== 0x2c) break;
        p.pos++;
        if (p.skipLwsp() <= 0) {
          ret = -1;
          break;
        }
      }
    }
    if (ret >= 0) {
      if (p.pos >= p.end || p.cur() !== 0x3b) ret = -1;
      else {
        p.pos++;
        ret = p.skipLwsp();
      }
    }
    if (ret < 0) this.addr.invalidSyntax = true;
    this.add();
    return ret === 0 ? 0 : 1;
  }

  parseAddress(): number {
    const p = this.parser;
    const start = p.pos;
    // A failed group attempt must not leave a half-filled address behind.
    const saved = this.addr;
    let ret = this.parseGroup();
    if (ret < 0) {
      p.pos = start;
      this.addr = saved;
      ret = this.parseMailbox();
    }
    return ret;
  }

  parseAddressList(max: number): number {
    const p = this.parser;
    let ret = 0;
    while (max > 0) {
      max--;
      if ((ret = this.parseAddress()) === 0) break;
      if (p.pos >= p.end || p.cur() !== 0x2c) {
        ret = -1;
        break;
      }
      p.pos++;
      if ((ret = p.skipLwsp()) <= 0) {
        if (ret < 0) this.addFixed();
        break;
      }
    }
    return ret;
  }
}

/**
 * Parses an address header value (a byte string, folding allowed).
 * With fillMissing (as ENVELOPE uses) missing parts become MISSING_MAILBOX / MISSING_DOMAIN.
 */
export function parseAddressList(value: string, options: { fillMissing?: boolean; max?: number } = {}): MessageAddress[] {
  const ctx = new AddressParser(value, options.fillMissing ?? false);
  if (ctx.parser.skipLwsp() > 0) ctx.parseAddressList(options.max ?? Number.MAX_SAFE_INTEGER);
  return ctx.out;
}

/** Re-serialises a local part, quoting it when it is not a dot-atom (for display and SORT keys). */
export function formatLocalPart(mailbox: string): string {
  let atom = true;
  for (let i = 0; i < mailbox.length; i++) {
    const c = mailbox.charCodeAt(i);
    if (!isAtext(c) && c !== 0x2e) atom = false;
  }
  return atom ? mailbox : `"${mailbox.replace(/(["\\])/g, '\\$1')}"`;
}
