// IMAP dates: SEARCH's date ("1-Feb-1994", optionally quoted) and the date-time of APPEND and
// INTERNALDATE ("17-Jul-1996 02:44:25 -0700"). Implements RFC 9051 section 9 (date, date-time, zone).
//
// Public API:
//   interface ImapDate { year: number; month: number (1-12); day: number }   a calendar day, no zone
//   parseSearchDate(text: string): ImapDate                    throws ProtocolError
//   parseDateTime(text: string): { date: Date; tzOffsetMinutes: number }   throws ProtocolError
//   formatDateTime(date: Date, tzOffsetMinutes?: number): string   without quotes; default offset is the
//                                                                  local zone's at that instant
//   formatSearchDate(d: ImapDate): string

import { ProtocolError } from './protocol-error.js';

export interface ImapDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_INDEX = new Map(MONTHS.map((m, i) => [m.toUpperCase(), i + 1]));

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function checkDay(year: number, month: number, day: number, what: string): void {
  if (day < 1 || day > daysInMonth(year, month)) throw new ProtocolError(`Invalid ${what}: no such day`);
}

const SEARCH_DATE_RE = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/;

export function parseSearchDate(text: string): ImapDate {
  const m = SEARCH_DATE_RE.exec(text);
  const month = m ? MONTH_INDEX.get(m[2]!.toUpperCase()) : undefined;
  if (!m || month === undefined) throw new ProtocolError(`Invalid date: ${text.slice(0, 40)}`);
  const year = Number(m[3]);
  const day = Number(m[1]);
  checkDay(year, month, day, 'date');
  return { year, month, day };
}

export function formatSearchDate(d: ImapDate): string {
  return `${d.day}-${MONTHS[d.month - 1]}-${String(d.year).padStart(4, '0')}`;
}

// date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
// date-day-fixed = (SP DIGIT) / 2DIGIT
const DATE_TIME_RE = /^( [0-9]|[0-9]{2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})$/;

export function parseDateTime(text: string): { date: Date; tzOffsetMinutes: number } {
  const m = DATE_TIME_RE.exec(text);
  const month = m ? MONTH_INDEX.get(m[2]!.toUpperCase()) : undefined;
  if (!m || month === undefined) throw new ProtocolError(`Invalid date-time: ${text.slice(0, 40)}`);
  const day = Number(m[1]!.trim());
  const year = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  const zh = Number(m[8]);
  const zm = Number(m[9]);
  checkDay(year, month, day, 'date-time');
  if (hour > 23 || minute > 59 || second > 60 || zm > 59) throw new ProtocolError(`Invalid date-time: ${text}`);
  const tzOffsetMinutes = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  const utc = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59)) - tzOffsetMinutes * 60_000;
  return { date: new Date(utc), tzOffsetMinutes };
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function formatDateTime(date: Date, tzOffsetMinutes: number = -date.getTimezoneOffset()): string {
  const local = new Date(date.getTime() + tzOffsetMinutes * 60_000);
  const sign = tzOffsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(tzOffsetMinutes);
  return (
    `${pad2(local.getUTCDate())}-${MONTHS[local.getUTCMonth()]}-${String(local.getUTCFullYear()).padStart(4, '0')} ` +
    `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
  );
}
