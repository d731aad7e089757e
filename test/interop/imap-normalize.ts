// The normalisation rules of the IMAP differential test, all in one place: what may differ between
// Roost and Dovecot without being a difference a client can see (completion texts, capability lists), and what
// Roost adds for extensions Dovecot 2.3 lacks (OBJECTID's MAILBOXID response code, RFC 8474 section 4).
/** Tagged completion: keep tag, status and response code; drop the human text (Dovecot adds timings). */
const TAGGED = /^(\S+) (OK|NO|BAD)( \[[^\]]*\])?.*$/;
/** Untagged status with a response code: keep the code, drop the text. */
const UNTAGGED_CODE = /^\* (OK|NO|BAD|BYE|PREAUTH) (\[[^\]]*\]).*$/;
/** Untagged status without a code: the text is free-form. */
const UNTAGGED_TEXT = /^\* (OK|NO|BAD|BYE) [^[].*$/;

/** Response codes left out of a completion: each server's own CAPABILITY list (tested against the RFCs instead). */
const OWN_CODE = /^ \[CAPABILITY /;
/**
 * Response codes only Roost sends, for OBJECTID (RFC 8474 section 4) which Dovecot 2.3.19 lacks: MAILBOXID on CREATE's
 * tagged OK (the code is left out) and on SELECT/EXAMINE's untagged OK (the line is left out).
 */
const ROOST_ONLY_CODE = /^ \[MAILBOXID /;

/** An untagged response only Roost sends (SELECT/EXAMINE's "* OK [MAILBOXID (...)]"), for scripts that compare lines themselves. */
export function isRoostOnlyResponse(line: string): boolean {
  return /^\* OK \[MAILBOXID /.test(line);
}

export function normalizeLine(line: string): string | undefined {
  // Capability lists name each server's own extensions; they are tested against the RFCs instead.
  if (/^\* CAPABILITY /.test(line) || isRoostOnlyResponse(line)) return undefined;
  // Untagged OK/NO/BAD with a code also match here ("*" is the tag).
  let m = TAGGED.exec(line);
  if (m) {
    const code = m[3];
    return `${m[1]} ${m[2]}${code && !OWN_CODE.test(code) && !ROOST_ONLY_CODE.test(code) ? code : ''}`;
  }
  m = UNTAGGED_CODE.exec(line);
  if (m) return m[2].startsWith('[CAPABILITY') ? undefined : `* ${m[1]} ${m[2]}`;
  m = UNTAGGED_TEXT.exec(line);
  if (m) return `* ${m[1]}`;
  return line;
}

/** The order of LIST and LSUB responses is unspecified (RFC 9051 section 6.3.9): runs of them are sorted. */
function sortListRuns(lines: string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const flush = () => {
    out.push(...run.sort());
    run = [];
  };
  for (const l of lines) {
    if (/^\* (LIST|LSUB) /.test(l)) run.push(l);
    else {
      flush();
      out.push(l);
    }
  }
  flush();
  return out;
}

/**
 * When a FETCH fails part-way (e.g. BINARY of a part with a broken encoding: NO [PARSE]), Dovecot has
 * already sent "* n FETCH (UID n)" for the attributes it started; Roost fails before sending anything.
 * Both end in the same tagged NO; the UID-only line before it is dropped.
 */
function dropPartialFetchBeforeNo(lines: string[]): string[] {
  return lines.filter((l, i) => !(/^\* \d+ FETCH \(UID \d+\)$/.test(l) && / NO \[/.test(lines[i + 1] ?? '')));
}

export function normalizeTranscript(lines: string[]): string[] {
  return sortListRuns(dropPartialFetchBeforeNo(lines.map(normalizeLine).filter((l): l is string => l !== undefined)));
}
