// LIST and LSUB name patterns: "*" matches anything, "%" anything but the hierarchy separator, and the
// INBOX part of a name matches case-insensitively. Implements RFC 9051 section 6.3.9 and RFC 3501 section 6.3.8.

/** A LIST/LSUB pattern (reference and mailbox pattern already joined) that tests Unicode mailbox names. */
export class MailboxPattern {
  constructor(
    readonly text: string,
    private readonly separator: string,
  ) {}

  /** Joins reference and pattern as Dovecot does for its single empty-prefix namespace: plain concatenation. */
  static join(reference: string, pattern: string, separator: string): MailboxPattern {
    return new MailboxPattern(reference + pattern, separator);
  }

  /** Does the whole name match? */
  matches(name: string): boolean {
    return this.matchFrom(name, 0, 0, new Map());
  }

  /** "%" as the last character also returns the levels of hierarchy above matching names (RFC 3501 6.3.8). */
  get endsWithPercent(): boolean {
    return this.text.endsWith('%');
  }

  private charMatches(name: string, ni: number, patternChar: string): boolean {
    const c = name[ni]!;
    if (c === patternChar) return true;
    // The INBOX part of "INBOX" or "INBOX<sep>..." matches case-insensitively (RFC 9051 section 5.1).
    return ni < 5 && isInboxName(name, this.separator) && c.toUpperCase() === patternChar.toUpperCase();
  }

  private matchFrom(name: string, pi: number, ni: number, memo: Map<number, boolean>): boolean {
    const key = pi * (name.length + 1) + ni;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (pi === this.text.length) {
      result = ni === name.length;
    } else {
      const p = this.text[pi]!;
      if (p === '*') {
        result = this.matchFrom(name, pi + 1, ni, memo) || (ni < name.length && this.matchFrom(name, pi, ni + 1, memo));
      } else if (p === '%') {
        result =
          this.matchFrom(name, pi + 1, ni, memo) ||
          (ni < name.length && name[ni] !== this.separator && this.matchFrom(name, pi, ni + 1, memo));
      } else {
        result = ni < name.length && this.charMatches(name, ni, p) && this.matchFrom(name, pi + 1, ni + 1, memo);
      }
    }
    memo.set(key, result);
    return result;
  }
}

function isInboxName(name: string, separator: string): boolean {
  return name.startsWith('INBOX') && (name.length === 5 || name.startsWith(separator, 5));
}

/** Every proper ancestor of a name ("a" and "a.b" for "a.b.c"). */
export function ancestorsOf(name: string, separator: string): string[] {
  const parts = name.split(separator);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join(separator));
  return out;
}

/** Listing order: INBOX first, then by name (code units), as the store lists them. */
export function compareMailboxNames(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : 1;
}

/** The root of a reference's hierarchy for LIST "" / LSUB "": up to and including its first separator, else "". */
export function hierarchyRoot(reference: string, separator: string): string {
  const i = reference.indexOf(separator);
  return i < 0 ? '' : reference.slice(0, i + separator.length);
}
