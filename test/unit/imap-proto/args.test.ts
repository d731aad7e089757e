// Tests for the typed IMAP argument parsers, with RFC 3501 / 9051 / 7162 / 5258 / 2971 examples as rows:
// FETCH, SEARCH, STORE, LIST, STATUS, APPEND, SELECT, ENABLE, ID, flags, sections, dates, mailbox names.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CommandReader } from '../../../src/protocols/imap/proto/command-reader.js';
import type { ImapToken } from '../../../src/protocols/imap/proto/tokens.js';
import { ProtocolError } from '../../../src/protocols/imap/proto/protocol-error.js';
import { parseFetchArgs, fetchItemName } from '../../../src/protocols/imap/proto/fetch-args.js';
import { parseSearchArgs, type SearchKey } from '../../../src/protocols/imap/proto/search-args.js';
import { parseStoreArgs } from '../../../src/protocols/imap/proto/store-args.js';
import { parseListArgs, parseLsubArgs } from '../../../src/protocols/imap/proto/list-args.js';
import { parseStatusArgs } from '../../../src/protocols/imap/proto/status-args.js';
import { parseAppendArgs } from '../../../src/protocols/imap/proto/append-args.js';
import { parseSelectArgs } from '../../../src/protocols/imap/proto/select-args.js';
import { parseEnableArgs } from '../../../src/protocols/imap/proto/enable-args.js';
import { parseIdArgs } from '../../../src/protocols/imap/proto/id-args.js';
import { parseFlags, parseFlagList } from '../../../src/protocols/imap/proto/flags.js';
import { parseMailboxName } from '../../../src/protocols/imap/proto/mailbox-name.js';
import { parseDateTime, parseSearchDate, formatDateTime } from '../../../src/protocols/imap/proto/datetime.js';

/** Tokens of the arguments of one command line, as the reader produces them. */
function argsOf(line: string): ImapToken[] {
  const reader = new CommandReader();
  reader.push(Buffer.from(`t ${line}\r\n`, 'utf8'));
  const e = reader.next();
  if (!e || e.type !== 'command') throw new Error(`reader did not yield a command: ${JSON.stringify(e)}`);
  return e.args;
}

function bad(fn: () => unknown, kind: 'BAD' | 'NO' = 'BAD'): void {
  assert.throws(fn, (err: unknown) => err instanceof ProtocolError && err.kind === kind);
}

const ascii = { utf8: false };

describe('FETCH', () => {
  test('macros expand (RFC 9051 6.4.5)', () => {
    assert.deepEqual(parseFetchArgs(argsOf('FETCH 1 ALL')).attributes.map((a) => a.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']);
    assert.deepEqual(parseFetchArgs(argsOf('FETCH 1 fast')).attributes.map((a) => a.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    const full = parseFetchArgs(argsOf('FETCH 12 FULL'));
    assert.equal(full.macro, 'FULL');
    assert.deepEqual(full.attributes.map((a) => a.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']);
    bad(() => parseFetchArgs(argsOf('FETCH 1 (ALL)')));
  });

  test('RFC 9051 example: FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])', () => {
    const args = parseFetchArgs(argsOf('FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])'));
    assert.deepEqual(args.sequence.resolve(10), [[2, 4]]);
    assert.deepEqual(args.attributes, [
      { kind: 'FLAGS' },
      { kind: 'BODY[]', peek: false, section: { part: [], text: 'HEADER.FIELDS', fields: ['DATE', 'FROM'] } },
    ]);
    assert.equal(fetchItemName(args.attributes[1]!), 'BODY[HEADER.FIELDS (DATE FROM)]');
  });

  test('sections, partials, BINARY and the response item names', () => {
    const rows: Array<[string, unknown, string]> = [
      ['BODY[]', { kind: 'BODY[]', peek: false, section: { part: [] } }, 'BODY[]'],
      ['BODY.PEEK[1.2.MIME]<0.2048>', { kind: 'BODY[]', peek: true, section: { part: [1, 2], text: 'MIME' }, partial: { offset: 0, length: 2048 } }, 'BODY[1.2.MIME]<0>'],
      ['body[3.header.fields.not (X-A "x-b")]', { kind: 'BODY[]', peek: false, section: { part: [3], text: 'HEADER.FIELDS.NOT', fields: ['X-A', 'x-b'] } }, 'BODY[3.HEADER.FIELDS.NOT (X-A x-b)]'],
      ['BODY[4.2.TEXT]<10.5>', { kind: 'BODY[]', peek: false, section: { part: [4, 2], text: 'TEXT' }, partial: { offset: 10, length: 5 } }, 'BODY[4.2.TEXT]<10>'],
      ['BODY[2]', { kind: 'BODY[]', peek: false, section: { part: [2] } }, 'BODY[2]'],
      ['BINARY.PEEK[1.3]<0.10>', { kind: 'BINARY[]', peek: true, part: [1, 3], partial: { offset: 0, length: 10 } }, 'BINARY[1.3]<0>'],
      ['BINARY[]', { kind: 'BINARY[]', peek: false, part: [] }, 'BINARY[]'],
      ['BINARY.SIZE[2]', { kind: 'BINARY.SIZE', part: [2] }, 'BINARY.SIZE[2]'],
      ['RFC822.HEADER', { kind: 'RFC822.HEADER' }, 'RFC822.HEADER'],
      ['bodystructure', { kind: 'BODYSTRUCTURE' }, 'BODYSTRUCTURE'],
    ];
    for (const [text, attr, name] of rows) {
      const parsed = parseFetchArgs(argsOf(`FETCH 1 ${text}`)).attributes[0]!;
      assert.deepEqual(parsed, attr, text);
      assert.equal(fetchItemName(parsed), name, text);
    }
  });

  test('CHANGEDSINCE and VANISHED (RFC 7162)', () => {
    const args = parseFetchArgs(argsOf('FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)'), { uid: true });
    assert.equal(args.changedSince, 12345n);
    assert.equal(args.vanished, true);
    assert.deepEqual(args.attributes.map((a) => a.kind), ['FLAGS', 'UID', 'MODSEQ']);
    bad(() => parseFetchArgs(argsOf('FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)')));
    bad(() => parseFetchArgs(argsOf('FETCH 1:* (FLAGS) (VANISHED)'), { uid: true }));
    bad(() => parseFetchArgs(argsOf('FETCH 1 FLAGS (CHANGEDSINCE x)')));
    bad(() => parseFetchArgs(argsOf('FETCH 1 FLAGS (FOO)')));
  });

  test('invalid FETCH arguments are BAD', () => {
    for (const line of [
      'FETCH 0 FLAGS',
      'FETCH 1: FLAGS',
      'FETCH a FLAGS',
      'FETCH 1 ()',
      'FETCH 1 FOO',
      'FETCH 1',
      'FETCH 1 BODY[MIME]',
      'FETCH 1 BODY[0]',
      'FETCH 1 BODY[1.FOO]',
      'FETCH 1 BODY[HEADER.FIELDS]',
      'FETCH 1 BODY[HEADER.FIELDS ()]',
      'FETCH 1 BODY[HEADER.FIELDS (a:b)]',
      'FETCH 1 BODY[TEXT (A)]',
      'FETCH 1 BODY[]<1>',
      'FETCH 1 BODY[]<0.0>',
      'FETCH 1 BINARY[1.TEXT]',
      'FETCH 1 BINARY.SIZE[1]<0.1>',
      'FETCH 1 FLAGS extra junk',
    ]) {
      bad(() => parseFetchArgs(argsOf(line)));
    }
  });
});

describe('SEARCH', () => {
  test('RFC 9051 example with RETURN (MIN COUNT)', () => {
    const args = parseSearchArgs(argsOf('SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'));
    assert.deepEqual(args.returns, { min: true, max: false, all: false, count: true, save: false });
    assert.deepEqual(args.key, {
      type: 'and',
      keys: [
        { type: 'flag', flag: '\\Flagged', set: true },
        { type: 'internaldate', op: 'since', date: { year: 1994, month: 2, day: 1 } },
        { type: 'not', key: { type: 'header', field: 'From', value: 'Smith' } },
      ],
    });
  });

  test('RFC 3501 example: SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith", no RETURN', () => {
    const args = parseSearchArgs(argsOf('SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'));
    assert.equal(args.returns, undefined);
    assert.equal(args.charset, 'US-ASCII');
  });

  test('RETURN () means ALL; SAVE and $', () => {
    assert.deepEqual(parseSearchArgs(argsOf('SEARCH RETURN () ALL')).returns, { min: false, max: false, all: true, count: false, save: false });
    const saved = parseSearchArgs(argsOf('SEARCH RETURN (SAVE) UID $'));
    assert.equal(saved.returns?.save, true);
    const key = saved.key as Extract<SearchKey, { type: 'uid' }>;
    assert.equal(key.type, 'uid');
    assert.equal(key.set.saved, true);
  });

  test('every RFC 3501 / 9051 key', () => {
    const line =
      'SEARCH ALL ANSWERED BCC b BEFORE 1-Jan-2000 BODY x CC c DELETED DRAFT FLAGGED FROM f HEADER X-Spam yes ' +
      'KEYWORD $Junk LARGER 100 NEW NOT SEEN OLD ON 29-Feb-2024 OR SMALLER 5 UNSEEN RECENT SEEN SENTBEFORE 2-Jan-2000 ' +
      'SENTON 3-Jan-2000 SENTSINCE "4-Jan-2000" SINCE 5-Jan-2000 SUBJECT s TEXT t TO o UID 1:*,7 UNANSWERED ' +
      'UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $Work UNSEEN 1,3:5 (SEEN FLAGGED) MODSEQ 620162338 YOUNGER 3600 OLDER 60';
    const key = parseSearchArgs(argsOf(line)).key;
    assert.equal(key.type, 'and');
    const keys = (key as Extract<SearchKey, { type: 'and' }>).keys;
    const types = keys.map((k) => k.type);
    assert.deepEqual(types, [
      'all', 'flag', 'header', 'internaldate', 'body', 'header', 'flag', 'flag', 'flag', 'header', 'header',
      'keyword', 'size', 'and', 'not', 'flag', 'internaldate', 'or', 'flag', 'flag', 'sentdate', 'sentdate', 'sentdate',
      'internaldate', 'header', 'text', 'header', 'uid', 'flag', 'flag', 'flag', 'flag', 'keyword', 'flag', 'seqset',
      'and', 'modseq', 'age', 'age',
    ]);
    assert.deepEqual(keys[9], { type: 'header', field: 'From', value: 'f' });
    assert.deepEqual(keys[10], { type: 'header', field: 'X-Spam', value: 'yes' });
    assert.deepEqual(keys[13], { type: 'and', keys: [{ type: 'flag', flag: '\\Recent', set: true }, { type: 'flag', flag: '\\Seen', set: false }] });
    assert.deepEqual(keys[15], { type: 'flag', flag: '\\Recent', set: false });
    assert.deepEqual(keys[17], { type: 'or', left: { type: 'size', op: 'smaller', size: 5 }, right: { type: 'flag', flag: '\\Seen', set: false } });
    assert.deepEqual(keys[32], { type: 'keyword', keyword: '$Work', set: false });
    assert.deepEqual(keys[36], { type: 'modseq', modseq: 620162338n });
  });

  test('MODSEQ with an entry (RFC 7162 3.1.5 example)', () => {
    const key = parseSearchArgs(argsOf('SEARCH MODSEQ "/flags/\\\\draft" all 620162338')).key;
    assert.deepEqual(key, { type: 'modseq', modseq: 620162338n, entry: { name: '/flags/\\draft', kind: 'all' } });
  });

  test('CHARSET decodes strings; unknown charsets are NO [BADCHARSET]', () => {
    const utf8 = parseSearchArgs(argsOf('SEARCH CHARSET UTF-8 SUBJECT {4+}\r\n\u00e9t\u00e9'.replace('{4+}', '{5+}')));
    assert.deepEqual(utf8.key, { type: 'header', field: 'Subject', value: '\u00e9t\u00e9' });
    const reader = new CommandReader();
    reader.push(Buffer.concat([Buffer.from('t SEARCH CHARSET ISO-8859-1 BODY {3+}\r\n'), Buffer.from([0xe9, 0x74, 0xe9]), Buffer.from('\r\n')]));
    const cmd = reader.next();
    assert.ok(cmd?.type === 'command');
    assert.deepEqual(parseSearchArgs(cmd.args).key, { type: 'body', value: '\u00e9t\u00e9' });
    assert.throws(
      () => parseSearchArgs(argsOf('SEARCH CHARSET X-NOPE ALL')),
      (e: unknown) => e instanceof ProtocolError && e.kind === 'NO' && e.code === 'BADCHARSET (US-ASCII UTF-8)',
    );
  });

  test('invalid searches are BAD', () => {
    for (const line of [
      'SEARCH',
      'SEARCH FOO',
      'SEARCH SINCE 30-Feb-2020',
      'SEARCH SINCE 1-Foo-2020',
      'SEARCH SINCE 2020-01-01',
      'SEARCH LARGER x',
      'SEARCH OR SEEN',
      'SEARCH NOT',
      'SEARCH ()',
      'SEARCH UID 0',
      'SEARCH 1:',
      'SEARCH KEYWORD \\Foo',
      'SEARCH KEYWORD a]b',
      'SEARCH HEADER "a:b" x',
      'SEARCH RETURN (FOO) ALL',
      'SEARCH RETURN ALL',
      'SEARCH MODSEQ x',
    ]) {
      bad(() => parseSearchArgs(argsOf(line)));
    }
  });

  test('deep NOT chains are refused, not a stack overflow', () => {
    bad(() => parseSearchArgs(argsOf('SEARCH ' + 'NOT '.repeat(5000) + 'ALL')));
    assert.equal(parseSearchArgs(argsOf('SEARCH ' + 'NOT '.repeat(50) + 'ALL')).key.type, 'not');
  });
});

describe('STORE', () => {
  test('RFC 3501 example and forms', () => {
    assert.deepEqual(parseStoreArgs(argsOf('STORE 2:4 +FLAGS (\\Deleted)')), {
      sequence: parseStoreArgs(argsOf('STORE 2:4 +FLAGS (\\Deleted)')).sequence,
      action: 'add',
      silent: false,
      flags: ['\\Deleted'],
    });
    const s = parseStoreArgs(argsOf('STORE 1 -flags.silent \\seen $Forwarded \\SEEN'));
    assert.equal(s.action, 'remove');
    assert.equal(s.silent, true);
    assert.deepEqual(s.flags, ['\\Seen', '$Forwarded']);
    assert.deepEqual(parseStoreArgs(argsOf('STORE 1 FLAGS ()')).flags, []);
    assert.equal(parseStoreArgs(argsOf('STORE 1 FLAGS ()')).action, 'set');
  });

  test('UNCHANGEDSINCE (RFC 7162 example)', () => {
    const s = parseStoreArgs(argsOf('STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)'));
    assert.equal(s.unchangedSince, 320162338n);
    assert.deepEqual(s.sequence.resolve(10), [[5, 5], [7, 7], [9, 9]]);
  });

  test('invalid STORE is BAD', () => {
    for (const line of [
      'STORE 1 +FLAGS',
      'STORE 1 FOO (\\Seen)',
      'STORE 1 +FLAGS (\\Recent)',
      'STORE 1 +FLAGS (\\Bogus)',
      'STORE 1 +FLAGS ("quoted")',
      'STORE 1 +FLAGS (a%b)',
      'STORE 1 (UNCHANGEDSINCE) FLAGS ()',
      'STORE 0 FLAGS ()',
    ]) {
      bad(() => parseStoreArgs(argsOf(line)));
    }
  });
});

describe('flags', () => {
  test('system flags are case-insensitive and canonical; keywords kept', () => {
    const list = argsOf('X (\\ANSWERED \\flagged \\Draft $MDNSent Junk)')[0]!;
    assert.deepEqual(parseFlagList(list), ['\\Answered', '\\Flagged', '\\Draft', '$MDNSent', 'Junk']);
    bad(() => parseFlags([]));
    bad(() => parseFlagList(argsOf('X (\\*)')[0]!));
  });
});

describe('LIST and LSUB', () => {
  test('RFC 3501 / 9051 examples', () => {
    const a = parseListArgs(argsOf('LIST "" ""'), ascii);
    assert.deepEqual([a.reference, a.patterns, a.extended], ['', [''], false]);
    const b = parseListArgs(argsOf('LIST ~/Mail/ %'), ascii);
    assert.deepEqual([b.reference, b.patterns], ['~/Mail/', ['%']]);
    const c = parseListArgs(argsOf('LIST #news.comp.mail.misc ""'), ascii);
    assert.equal(c.reference, '#news.comp.mail.misc');
    assert.deepEqual(parseLsubArgs(argsOf('LSUB "#news." "comp.mail.*"'), ascii), { reference: '#news.', pattern: 'comp.mail.*' });
  });

  test('LIST-EXTENDED: selection, multiple patterns, RETURN with STATUS (RFC 5258, 5819)', () => {
    const a = parseListArgs(
      argsOf('LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Drafts" %) RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))'),
      ascii,
    );
    assert.equal(a.extended, true);
    assert.deepEqual(a.selection, { subscribed: true, remote: false, recursiveMatch: true, specialUse: false });
    assert.deepEqual(a.patterns, ['INBOX', 'Drafts', '%']);
    assert.deepEqual(a.returns, { subscribed: false, children: true, specialUse: true, status: ['MESSAGES', 'UNSEEN'] });
    const b = parseListArgs(argsOf('LIST () "" % RETURN ()'), ascii);
    assert.equal(b.extended, true);
    bad(() => parseListArgs(argsOf('LIST (RECURSIVEMATCH) "" %'), ascii));
    bad(() => parseListArgs(argsOf('LIST (FOO) "" %'), ascii));
    bad(() => parseListArgs(argsOf('LIST "" % RETURN (FOO)'), ascii));
    bad(() => parseListArgs(argsOf('LIST "" % STATUS (MESSAGES)'), ascii));
    bad(() => parseListArgs(argsOf('LIST ""'), ascii));
  });

  test('patterns are decoded from modified UTF-7, or taken as UTF-8 when enabled', () => {
    assert.deepEqual(parseListArgs(argsOf('LIST "" Entw&APw-rfe/*'), ascii).patterns, ['Entw\u00fcrfe/*']);
    assert.deepEqual(parseListArgs(argsOf('LIST "" "Entw\u00fcrfe/*"'), { utf8: true }).patterns, ['Entw\u00fcrfe/*']);
    bad(() => parseListArgs(argsOf('LIST "" "Entw\u00fcrfe"'), ascii), 'NO');
  });
});

describe('mailbox names', () => {
  test('INBOX is case-insensitive; others are decoded', () => {
    assert.equal(parseMailboxName(argsOf('X inbox')[0]!, ascii), 'INBOX');
    assert.equal(parseMailboxName(argsOf('X "InBoX"')[0]!, ascii), 'INBOX');
    assert.equal(parseMailboxName(argsOf('X INBOX.Sent')[0]!, ascii), 'INBOX.Sent');
    assert.equal(parseMailboxName(argsOf('X ~peter/mail/&U,BTFw-/&ZeVnLIqe-')[0]!, ascii), '~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e');
    assert.equal(parseMailboxName(argsOf('X nil')[0]!, ascii), 'nil');
    bad(() => parseMailboxName(argsOf('X &AGE-')[0]!, ascii), 'NO');
    bad(() => parseMailboxName(argsOf('X (a)')[0]!, ascii));
  });
});

describe('STATUS', () => {
  test('RFC 9051 example and all items', () => {
    assert.deepEqual(parseStatusArgs(argsOf('STATUS blurdybloop (UIDNEXT MESSAGES)'), ascii), { mailbox: 'blurdybloop', items: ['UIDNEXT', 'MESSAGES'] });
    const all = parseStatusArgs(argsOf('STATUS INBOX (messages uidnext uidvalidity unseen deleted size recent highestmodseq appendlimit)'), ascii);
    assert.equal(all.items.length, 9);
    bad(() => parseStatusArgs(argsOf('STATUS INBOX ()'), ascii));
    bad(() => parseStatusArgs(argsOf('STATUS INBOX (FOO)'), ascii));
    bad(() => parseStatusArgs(argsOf('STATUS INBOX MESSAGES'), ascii));
  });
});

describe('APPEND', () => {
  test('RFC 3501 example with flags and date-time', () => {
    const reader = new CommandReader();
    const msg = 'Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nSubject: afternoon meeting\r\n\r\nHello Joe\r\n';
    reader.push(Buffer.from(`A003 APPEND saved-messages (\\Seen) "17-Jul-1996 02:44:25 -0700" {${msg.length}+}\r\n${msg}\r\n`));
    const cmd = reader.next();
    assert.ok(cmd?.type === 'command');
    const args = parseAppendArgs(cmd.args, ascii);
    assert.equal(args.mailbox, 'saved-messages');
    assert.equal(args.messages.length, 1);
    const m = args.messages[0]!;
    assert.deepEqual(m.flags, ['\\Seen']);
    assert.equal(m.date?.date.toISOString(), '1996-07-17T09:44:25.000Z');
    assert.equal(m.date?.tzOffsetMinutes, -420);
    assert.equal(m.data?.toString(), msg);
  });

  test('MULTIAPPEND (RFC 3502) and literal8', () => {
    const reader = new CommandReader();
    reader.push(Buffer.from('A003 APPEND Drafts {3+}\r\none (\\Draft) ~{3+}\r\nt\0o " 7-Feb-1994 21:52:25 +0100" {5+}\r\nthree\r\n'));
    const cmd = reader.next();
    assert.ok(cmd?.type === 'command');
    const args = parseAppendArgs(cmd.args, ascii);
    assert.deepEqual(
      args.messages.map((m) => [m.flags, m.data?.toString('latin1'), m.literal8, m.date?.tzOffsetMinutes]),
      [
        [[], 'one', false, undefined],
        [['\\Draft'], 't\0o', true, undefined],
        [[], 'three', false, 60],
      ],
    );
  });

  test('invalid APPEND is BAD', () => {
    bad(() => parseAppendArgs(argsOf('APPEND INBOX'), ascii));
    bad(() => parseAppendArgs(argsOf('APPEND INBOX (\\Seen) "hello"'), ascii));
    bad(() => parseAppendArgs(argsOf('APPEND INBOX "hello"'), ascii));
    bad(() => parseAppendArgs(argsOf('APPEND INBOX "32-Jul-1996 02:44:25 -0700" {1+}\r\nx'), ascii));
  });
});

describe('SELECT / EXAMINE parameters', () => {
  test('plain, CONDSTORE and the RFC 7162 QRESYNC example', () => {
    assert.deepEqual(parseSelectArgs(argsOf('SELECT INBOX'), ascii), { mailbox: 'INBOX', condstore: false });
    assert.equal(parseSelectArgs(argsOf('SELECT INBOX (CONDSTORE)'), ascii).condstore, true);
    const q = parseSelectArgs(argsOf('SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))'), ascii).qresync!;
    assert.equal(q.uidValidity, 67890007);
    assert.equal(q.modseq, 20050715194045000n);
    assert.equal(q.knownUids?.toString(), '41,43:211,214:541');
    const m = parseSelectArgs(
      argsOf('SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:10,20 2:11,30)))'),
      ascii,
    ).qresync!;
    assert.equal(m.seqMatch?.seqs.toString(), '1:10,20');
    assert.equal(m.seqMatch?.uids.toString(), '2:11,30');
    const seqOnly = parseSelectArgs(argsOf('SELECT INBOX (QRESYNC (1 2 (1 5)))'), ascii).qresync!;
    assert.equal(seqOnly.knownUids, undefined);
    assert.equal(seqOnly.seqMatch?.uids.toString(), '5');
  });

  test('invalid parameters are BAD', () => {
    for (const line of [
      'SELECT INBOX ()',
      'SELECT INBOX (FOO)',
      'SELECT INBOX (QRESYNC (0 1))',
      'SELECT INBOX (QRESYNC (1))',
      'SELECT INBOX (QRESYNC (1 0))',
      'SELECT INBOX (QRESYNC (1 2 1:*))',
      'SELECT INBOX (QRESYNC (1 2 3 (1)))',
      'SELECT INBOX extra',
    ]) {
      bad(() => parseSelectArgs(argsOf(line), ascii));
    }
  });
});

describe('ENABLE and ID', () => {
  test('ENABLE (RFC 5161 example)', () => {
    assert.deepEqual(parseEnableArgs(argsOf('ENABLE CONDSTORE X-GOOD-IDEA condstore')), ['CONDSTORE', 'X-GOOD-IDEA']);
    bad(() => parseEnableArgs(argsOf('ENABLE')));
    bad(() => parseEnableArgs(argsOf('ENABLE "CONDSTORE"')));
  });

  test('ID (RFC 2971 example)', () => {
    const id = parseIdArgs(argsOf('ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited" "x" NIL)'));
    assert.deepEqual([...id!.entries()], [
      ['name', 'sodr'],
      ['version', '19.34'],
      ['vendor', 'Pink Floyd Music Limited'],
      ['x', null],
    ]);
    assert.equal(parseIdArgs(argsOf('ID NIL')), null);
    bad(() => parseIdArgs(argsOf('ID ("name")')));
    bad(() => parseIdArgs(argsOf(`ID ("${'n'.repeat(31)}" "v")`)));
    bad(() => parseIdArgs(argsOf(`ID ("n" "${'v'.repeat(1025)}")`)));
  });
});

describe('dates', () => {
  test('search dates and date-times', () => {
    assert.deepEqual(parseSearchDate('1-Feb-1994'), { year: 1994, month: 2, day: 1 });
    assert.deepEqual(parseSearchDate('29-feb-2024'), { year: 2024, month: 2, day: 29 });
    bad(() => parseSearchDate('29-Feb-2023'));
    bad(() => parseSearchDate('1-Feb-94'));
    const dt = parseDateTime('17-Jul-1996 02:44:25 -0700');
    assert.equal(formatDateTime(dt.date, dt.tzOffsetMinutes), '17-Jul-1996 02:44:25 -0700');
    assert.equal(formatDateTime(new Date(Date.UTC(2024, 0, 5, 3, 4, 5)), 0), '05-Jan-2024 03:04:05 +0000');
    assert.equal(formatDateTime(new Date(Date.UTC(2024, 0, 5, 3, 4, 5)), 330), '05-Jan-2024 08:34:05 +0530');
    bad(() => parseDateTime('17-Jul-1996 24:00:00 -0700'));
    bad(() => parseDateTime('17-Jul-1996 02:44:25'));
  });
});
