// The mbox From_ separator line: "From <envelope-sender>  <asctime date>" as Dovecot writes it (two spaces, zero-padded
// day, local time) and parses it (mbox-from.c: asctime with optional seconds, named or numeric zone, or "Thu, 9 Nov 2002").

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export interface ParsedFromLine {
  sender: string;
  /** ms since the epoch */
  date: number;
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** "From <sender>  Www Mmm dd hh:mm:ss yyyy\n" in local time, exactly as Dovecot's mbox_from_create(). */
export function formatFromLine(sender: string, date: Date): string {
  const safeSender = sender === '' ? 'MAILER-DAEMON' : sender.replace(/[\s]/g, '_');
  const year = String(date.getFullYear()).padStart(4, '0');
  return (
    `From ${safeSender}  ${WEEKDAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${year}\n`
  );
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function monthAt(s: string, i: number): number {
  const name = s.slice(i, i + 3).toLowerCase();
  const idx = MONTHS.findIndex((m) => m.toLowerCase() === name);
  if (idx < 0 || s[i + 3] !== ' ') return -1;
  return idx;
}

function yearAt(s: string, i: number): number {
  if (!isDigit(s[i]) || !isDigit(s[i + 1]) || !isDigit(s[i + 2]) || !isDigit(s[i + 3])) return -1;
  return Number(s.slice(i, i + 4));
}

/**
 * Parses the text after "From " (up to the end of the line, without the LF). Returns null when the line is not a
 * From_ separator, as Dovecot's mbox_from_parse() decides: a body line "From here" is not a separator.
 */
export function parseFromLineRest(rest: string): ParsedFromLine | null {
  let i = 0;
  const n = rest.length;
  if (rest[0] === '"') {
    let esc = false;
    i = 1;
    while (i < n && (rest[i] !== '"' || esc)) {
      if (rest[i] === '\r' || rest[i] === '\n') return null;
      esc = rest[i] === '\\';
      i++;
    }
    i++;
  }
  while (i < n && rest[i] !== ' ') {
    if (rest[i] === '\r' || rest[i] === '\n') return null;
    i++;
  }
  const sender = rest.slice(0, i);
  while (i < n && rest[i] === ' ') i++;
  if (i + 24 > n) return null;
  i += 4; // weekday
  let month = monthAt(rest, i);
  let day: number;
  let year = -1;
  let altStamp = false;
  if (month < 0) {
    // "Thu, 9 Nov 2002 22:33:52"
    altStamp = true;
    i++;
    if (!isDigit(rest[i])) return null;
    day = Number(rest[i]);
    i++;
    if (isDigit(rest[i])) {
      day = day * 10 + Number(rest[i]);
      i++;
    }
    if (rest[i] !== ' ') return null;
    i++;
    month = monthAt(rest, i);
    if (month < 0) return null;
    i += 4;
    year = yearAt(rest, i);
    if (year < 0) return null;
    i += 5;
  } else {
    i += 4;
    if (rest[i] === ' ') i++;
    if (rest[i + 1] === ' ') {
      if (!isDigit(rest[i])) return null;
      day = Number(rest[i]);
      i += 2;
    } else {
      if (!isDigit(rest[i]) || !isDigit(rest[i + 1]) || rest[i + 2] !== ' ') return null;
      day = Number(rest.slice(i, i + 2));
      i += 3;
    }
  }
  if (day === 0) day = 1;
  if (!isDigit(rest[i]) || !isDigit(rest[i + 1]) || rest[i + 2] !== ':') return null;
  const hour = Number(rest.slice(i, i + 2));
  i += 3;
  if (!isDigit(rest[i]) || !isDigit(rest[i + 1])) return null;
  const minute = Number(rest.slice(i, i + 2));
  i += 2;
  let second = 0;
  if (rest[i] === ':') {
    i++;
    if (!isDigit(rest[i]) || !isDigit(rest[i + 1])) return null;
    second = Number(rest.slice(i, i + 2));
    i += 2;
    if (rest[i] === ' ') i++;
    else if (!altStamp) return null;
  } else {
    if (rest[i] !== ' ') return null;
    i++;
  }
  let zoneSeconds: number | undefined;
  if (!altStamp) {
    if ((rest[i] === '+' || rest[i] === '-') && isDigit(rest[i + 1]) && isDigit(rest[i + 2]) && isDigit(rest[i + 3]) && isDigit(rest[i + 4]) && rest[i + 5] === ' ') {
      zoneSeconds = zoneValue(rest, i);
      i += 6;
    } else if (!isDigit(rest[i]) || !isDigit(rest[i + 1]) || !isDigit(rest[i + 2]) || !isDigit(rest[i + 3])) {
      // a named time zone before the year: skipped
      while (i < n && rest[i] !== ' ') {
        if (rest[i] === '\r' || rest[i] === '\n') return null;
        i++;
      }
      if (i + 5 > n) return null;
      i++;
    }
    year = yearAt(rest, i);
    if (year < 0) return null;
    i += 4;
  }
  if (zoneSeconds === undefined && rest[i] === ' ' && (rest[i + 1] === '+' || rest[i + 1] === '-') && isDigit(rest[i + 2]) && isDigit(rest[i + 3]) && isDigit(rest[i + 4]) && isDigit(rest[i + 5])) {
    zoneSeconds = zoneValue(rest, i + 1);
  }
  let date: number;
  if (zoneSeconds !== undefined) {
    date = Date.UTC(year, month, day, hour, minute, second) - zoneSeconds * 1000;
  } else {
    date = new Date(year, month, day, hour, minute, second).getTime();
  }
  if (!Number.isFinite(date)) return null;
  return { sender, date };
}

function zoneValue(s: string, i: number): number {
  const v = Number(s.slice(i + 1, i + 3)) * 3600 + Number(s.slice(i + 3, i + 5)) * 60;
  return s[i] === '-' ? -v : v;
}

/** Parses a whole line (with or without its trailing LF / CRLF); null unless it is a valid From_ separator. */
export function parseFromLine(line: string): ParsedFromLine | null {
  if (!line.startsWith('From ')) return null;
  return parseFromLineRest(line.slice(5).replace(/\r?\n$/, ''));
}
