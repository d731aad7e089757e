// Tests for the streaming IMAP command reader: RFC 3501 / 9051 example commands, every chunking, limits,
// error recovery and hostile input. Covers RFC 9051 sections 2.2, 4 and 9, RFC 7888 (LITERAL+ / LITERAL-).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CommandReader,
  type CommandReaderOptions,
  type ReaderEvent,
} from '../../../src/protocols/imap/proto/command-reader.js';
import type { ImapToken, LiteralSink } from '../../../src/protocols/imap/proto/tokens.js';

/** Plain JSON-able view of an event: literals become { literal: text }. */
function view(t: ImapToken): unknown {
  switch (t.type) {
    case 'atom':
      return t.value;
    case 'string':
      return { q: t.value };
    case 'literal':
      return t.literal8 ? { literal8: t.value.toString('latin1') } : { literal: t.value.toString('latin1') };
    case 'streamed-literal':
      return { streamed: t.size };
    case 'nil':
      return null;
    case 'list':
      return t.items.map(view);
    case 'section':
      return { section: t.name, items: t.items.map(view), suffix: t.suffix };
  }
}

function viewEvent(e: ReaderEvent): unknown {
  if (e.type === 'command') return { cmd: `${e.tag} ${e.name}`, args: e.args.map(view) };
  return e;
}

/** Feeds `input` split at the given offsets, draining events after each chunk. */
function feed(input: Buffer | string, cuts: number[] = [], opts: CommandReaderOptions = {}): unknown[] {
  const data = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const reader = new CommandReader(opts);
  const out: unknown[] = [];
  const points = [...new Set(cuts.filter((c) => c > 0 && c < data.length))].sort((a, b) => a - b);
  let prev = 0;
  for (const p of [...points, data.length]) {
    reader.push(data.subarray(prev, p));
    prev = p;
    for (let e = reader.next(); e; e = reader.next()) out.push(viewEvent(e));
  }
  return out;
}

function byteByByte(input: string | Buffer, opts: CommandReaderOptions = {}): unknown[] {
  const data = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  return feed(data, Array.from({ length: data.length }, (_, i) => i), opts);
}

function commands(events: unknown[]): unknown[] {
  return events.filter((e) => (e as { cmd?: string }).cmd !== undefined);
}

describe('RFC 3501 section 8 sample session (client commands)', () => {
  const session =
    'a001 login mrc secret\r\n' +
    'a002 select inbox\r\n' +
    'a003 fetch 12 full\r\n' +
    'a004 fetch 12 body[header]\r\n' +
    'a005 store 12 +flags \\deleted\r\n' +
    'a006 logout\r\n';
  const expected = [
    { cmd: 'a001 LOGIN', args: ['mrc', 'secret'] },
    { cmd: 'a002 SELECT', args: ['inbox'] },
    { cmd: 'a003 FETCH', args: ['12', 'full'] },
    { cmd: 'a004 FETCH', args: ['12', { section: 'BODY', items: ['header'], suffix: '' }] },
    { cmd: 'a005 STORE', args: ['12', '+flags', '\\deleted'] },
    { cmd: 'a006 LOGOUT', args: [] },
  ];
  test('whole', () => assert.deepEqual(feed(session), expected));
  test('byte by byte', () => assert.deepEqual(byteByByte(session), expected));
});

describe('RFC 9051 examples', () => {
  const rows: Array<[string, string, unknown]> = [
    [
      'FETCH with header fields',
      'A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n',
      {
        cmd: 'A654 FETCH',
        args: ['2:4', ['FLAGS', { section: 'BODY', items: ['HEADER.FIELDS', ['DATE', 'FROM']], suffix: '' }]],
      },
    ],
    [
      'ESEARCH with RETURN',
      'A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"\r\n',
      {
        cmd: 'A282 SEARCH',
        args: ['RETURN', ['MIN', 'COUNT'], 'FLAGGED', 'SINCE', '1-Feb-1994', 'NOT', 'FROM', { q: 'Smith' }],
      },
    ],
    ['LIST with wildcard', 'A202 LIST ~/Mail/ %\r\n', { cmd: 'A202 LIST', args: ['~/Mail/', '%'] }],
    ['empty reference', 'A101 LIST "" ""\r\n', { cmd: 'A101 LIST', args: [{ q: '' }, { q: '' }] }],
    [
      'UID command is one name',
      'A999 UID FETCH 4827313:4828442 FLAGS\r\n',
      { cmd: 'A999 UID FETCH', args: ['4827313:4828442', 'FLAGS'] },
    ],
    [
      'partial and peek',
      'a1 FETCH 1 BODY.PEEK[1.2.MIME]<0.2048>\r\n',
      { cmd: 'a1 FETCH', args: ['1', { section: 'BODY.PEEK', items: ['1.2.MIME'], suffix: '<0.2048>' }] },
    ],
    [
      'CONDSTORE modifiers',
      'a1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n',
      { cmd: 'a1 UID FETCH', args: ['1:*', ['FLAGS'], ['CHANGEDSINCE', '12345', 'VANISHED']] },
    ],
    ['NIL token', 'a1 ID NIL\r\n', { cmd: 'a1 ID', args: [null] }],
    ['quoted escapes', 'a1 LOGIN "fred \\"x\\"" "a\\\\b"\r\n', { cmd: 'a1 LOGIN', args: [{ q: 'fred "x"' }, { q: 'a\\b' }] }],
    ['mailbox with brackets stays an atom', 'a1 SELECT [Gmail]/Sent\r\n', { cmd: 'a1 SELECT', args: ['[Gmail]/Sent'] }],
    ['bare LF ends a line', 'a1 NOOP\n', { cmd: 'a1 NOOP', args: [] }],
    ['8-bit UTF-8 quoted string', 'a1 SELECT "Entw\u00c3\u00bcrfe"\r\n', { cmd: 'a1 SELECT', args: [{ q: 'Entwürfe' }] }],
  ];
  for (const [name, input, expected] of rows) {
    test(name, () => {
      assert.deepEqual(feed(input), [expected]);
      assert.deepEqual(byteByByte(input), [expected]);
    });
  }
});

describe('literals', () => {
  test('synchronising literal asks for a continuation before the data', () => {
    const reader = new CommandReader();
    reader.push(Buffer.from('A003 APPEND saved-messages (\\Seen) {11}\r\n'));
    const cont = reader.next();
    assert.deepEqual(cont, { type: 'continue', tag: 'A003', name: 'APPEND', size: 11, literal8: false });
    assert.equal(reader.next(), undefined);
    reader.push(Buffer.from('Hello World\r\n'));
    const cmd = reader.next();
    assert.ok(cmd && cmd.type === 'command');
    assert.deepEqual(cmd.args.map(view), ['saved-messages', ['\\Seen'], { literal: 'Hello World' }]);
  });

  test('LITERAL+ needs no continuation; literal8 is flagged', () => {
    const events = feed('a1 APPEND INBOX {3+}\r\nabc ~{2+}\r\n\0x\r\n');
    assert.deepEqual(events, [{ cmd: 'a1 APPEND', args: ['INBOX', { literal: 'abc' }, { literal8: '\0x' }] }]);
  });

  test('zero-length literal', () => {
    assert.deepEqual(feed('a1 LOGIN {0+}\r\n {0+}\r\n\r\n'), [{ cmd: 'a1 LOGIN', args: [{ literal: '' }, { literal: '' }] }]);
  });

  test('literal bytes are opaque (CRLF, NUL, parens inside)', () => {
    const events = byteByByte('a1 X {6+}\r\n(\r\n\0")\r\n');
    assert.deepEqual(events, [{ cmd: 'a1 X', args: [{ literal: '(\r\n\0")' }] }]);
  });

  test('literal inside a section header list', () => {
    const events = byteByByte('a1 FETCH 1 BODY[HEADER.FIELDS ("To" {2+}\r\nCC)]<0.10>\r\n');
    assert.deepEqual(events, [
      { cmd: 'a1 FETCH', args: ['1', { section: 'BODY', items: ['HEADER.FIELDS', [{ q: 'To' }, { literal: 'CC' }]], suffix: '<0.10>' }] },
    ]);
  });

  test('sync literal over the limit: NO [TOOBIG] without continuation, next line is a command', () => {
    const events = feed('a1 APPEND INBOX {104857600}\r\na2 NOOP\r\n');
    assert.deepEqual(events, [
      { type: 'error', tag: 'a1', name: 'APPEND', kind: 'NO', code: 'TOOBIG', text: 'Literal too big' },
      { cmd: 'a2 NOOP', args: [] },
    ]);
  });

  test('non-sync literal over the limit: bytes discarded, then the error, then the next command', () => {
    const body = 'x'.repeat(100);
    const events = byteByByte(`a1 APPEND INBOX {100+}\r\n${body} more\r\na2 NOOP\r\n`, { maxLiteralSize: 50 });
    assert.deepEqual(events, [
      { type: 'error', tag: 'a1', name: 'APPEND', kind: 'NO', code: 'TOOBIG', text: 'Literal too big' },
      { cmd: 'a2 NOOP', args: [] },
    ]);
  });

  test('LITERAL-: non-sync literal over 4096 bytes is BAD [TOOBIG] and skipped', () => {
    const events = feed(`a1 APPEND INBOX {4097+}\r\n${'y'.repeat(4097)}\r\na2 NOOP\r\n`, [], { nonSyncLiterals: 'LITERAL-' });
    assert.equal((events[0] as { kind: string }).kind, 'BAD');
    assert.equal((events[0] as { code: string }).code, 'TOOBIG');
    assert.deepEqual(events[1], { cmd: 'a2 NOOP', args: [] });
    const ok = feed(`a1 APPEND INBOX {4096+}\r\n${'y'.repeat(4096)}\r\n`, [], { nonSyncLiterals: 'LITERAL-' });
    assert.equal(commands(ok).length, 1);
  });

  test('unterminated literal yields nothing until the data arrives', () => {
    const reader = new CommandReader();
    reader.push(Buffer.from('a1 APPEND INBOX {10+}\r\nabc'));
    assert.equal(reader.next(), undefined);
    reader.push(Buffer.from('\r\na2\r')); // literal data (7 of 10 bytes), not a command
    assert.equal(reader.next(), undefined);
    reader.push(Buffer.from('\n\r\n'));
    const cmd = reader.next();
    assert.ok(cmd?.type === 'command');
    assert.deepEqual(cmd.args.map(view), ['INBOX', { literal: 'abc\r\na2\r\n\r' }]);
    assert.equal(reader.next(), undefined);
    reader.push(Buffer.from('a2 APPEND INBOX {10+}\r\nabc'));
    assert.equal(reader.next(), undefined);
    assert.equal(reader.close(), true);
  });

  test('streamed literal goes to the sink, not the token', () => {
    const written: Buffer[] = [];
    let ended = 0;
    const sink: LiteralSink = { write: (c) => written.push(c), end: () => ended++, abort: () => assert.fail('aborted') };
    const reader = new CommandReader({
      onLiteral: (info) => (info.name === 'APPEND' && info.size > 4 ? { sink } : undefined),
    });
    const msg = 'Subject: hi\r\n\r\nbody\r\n';
    const input = Buffer.from(`a1 APPEND INBOX {${msg.length}+}\r\n${msg}\r\n`);
    const events: ReaderEvent[] = [];
    for (const byte of input) {
      reader.push(Buffer.from([byte]));
      for (let e = reader.next(); e; e = reader.next()) events.push(e);
    }
    assert.equal(Buffer.concat(written).toString(), msg);
    assert.equal(ended, 1);
    assert.equal(events.length, 1);
    const cmd = events[0]!;
    assert.ok(cmd.type === 'command');
    const last = cmd.args[1]!;
    assert.ok(last.type === 'streamed-literal' && last.size === msg.length && last.sink === sink);
  });

  test('a streamed literal is aborted when the command later fails', () => {
    const reasons: string[] = [];
    const sink: LiteralSink = { write: () => undefined, end: () => undefined, abort: (r) => reasons.push(r) };
    const events = feed('a1 APPEND INBOX {3+}\r\nabc (\r\n', [], { onLiteral: () => ({ sink }) });
    assert.equal((events[0] as { type: string }).type, 'error');
    assert.equal(reasons.length, 1);
  });

  test('onLiteral may refuse a sync literal before the continuation', () => {
    const events = feed('a1 APPEND nosuch {5}\r\na2 NOOP\r\n', [], {
      onLiteral: () => ({ reject: { kind: 'NO', code: 'TRYCREATE', text: 'Mailbox does not exist' } }),
    });
    assert.deepEqual(events, [
      { type: 'error', tag: 'a1', name: 'APPEND', kind: 'NO', code: 'TRYCREATE', text: 'Mailbox does not exist' },
      { cmd: 'a2 NOOP', args: [] },
    ]);
  });

  test('total buffered literal bytes per command are bounded', () => {
    const events = feed('a1 X {30+}\r\n' + 'a'.repeat(30) + ' {30+}\r\n' + 'b'.repeat(30) + '\r\na2 NOOP\r\n', [], {
      maxLiteralSize: 40,
    });
    assert.equal((events[0] as { code: string }).code, 'TOOBIG');
    assert.deepEqual(events[1], { cmd: 'a2 NOOP', args: [] });
  });

  test('malformed literal headers are BAD', () => {
    for (const bad of ['a1 X {}\r\n', 'a1 X {1a}\r\n', 'a1 X {5}x\r\n', 'a1 X {5++}\r\n']) {
      const events = feed(bad + 'a2 NOOP\r\n');
      assert.equal((events[0] as { kind: string }).kind, 'BAD', bad);
      assert.deepEqual(events.at(-1), { cmd: 'a2 NOOP', args: [] }, bad);
    }
  });
});

describe('errors and resynchronisation', () => {
  const after = { cmd: 'a2 NOOP', args: [] };

  test('10,000 nested parentheses give BAD, not a crash', () => {
    const events = feed('a1 X ' + '('.repeat(10_000) + ')'.repeat(10_000) + '\r\na2 NOOP\r\n');
    assert.deepEqual(events, [{ type: 'error', tag: 'a1', name: 'X', kind: 'BAD', text: 'Too deep nesting' }, after]);
  });

  test('nesting at the limit is fine', () => {
    const events = feed('a1 X ' + '('.repeat(100) + ')'.repeat(100) + '\r\n');
    assert.equal(commands(events).length, 1);
  });

  test('NUL outside a literal is BAD', () => {
    for (const input of ['a1 NO\0OP\r\n', 'a1 LOGIN "a\0b" c\r\n', 'a1 X \0\r\n']) {
      const events = feed(input + 'a2 NOOP\r\n');
      assert.equal((events[0] as { kind: string }).kind, 'BAD', JSON.stringify(input));
      assert.deepEqual(events[1], after);
    }
  });

  test('overlong line is BAD and the next line works', () => {
    const events = feed('a1 X ' + 'z'.repeat(70_000) + '\r\na2 NOOP\r\n');
    assert.deepEqual(events, [{ type: 'error', tag: 'a1', name: 'X', kind: 'BAD', text: 'Too long command line' }, after]);
  });

  test('line length excludes literal data', () => {
    const events = feed(`a1 X {100+}\r\n${'q'.repeat(100)}\r\n`, [], { maxLineLength: 50 });
    assert.equal(commands(events).length, 1);
  });

  test('skipped line honours non-sync literals in it', () => {
    const events = feed('a1 X ) {9+}\r\na2 NOOP\r\n\r\na3 NOOP\r\n');
    assert.deepEqual(events, [
      { type: 'error', tag: 'a1', name: 'X', kind: 'BAD', text: "Unexpected ')'" },
      { cmd: 'a3 NOOP', args: [] },
    ]);
  });

  test('unknown tag gives a null tag', () => {
    const events = feed('+x NOOP\r\na2 NOOP\r\n');
    assert.deepEqual(events, [{ type: 'error', tag: null, kind: 'BAD', text: 'Invalid tag' }, after]);
  });

  test('missing command name, unbalanced lists and brackets', () => {
    assert.deepEqual(feed('a1\r\n'), [{ type: 'error', tag: 'a1', kind: 'BAD', text: 'Missing command name' }]);
    assert.equal((feed('a1 X (a\r\n')[0] as { text: string }).text, "Missing ')'");
    assert.equal((feed('a1 FETCH 1 BODY[TEXT\r\n')[0] as { text: string }).text, "Missing ']'");
    assert.equal((feed('a1 X "abc\r\n')[0] as { text: string }).text, "Missing '\"'");
  });

  test('empty lines are ignored', () => {
    assert.deepEqual(feed('\r\n\n\r\na2 NOOP\r\n'), [after]);
  });
});

describe('raw lines and STARTTLS', () => {
  test('readRawLine returns the next line as text (AUTHENTICATE, IDLE DONE)', () => {
    const reader = new CommandReader();
    reader.push(Buffer.from('a1 AUTHENTICATE PLAIN\r\nAGZyZWQAc2VjcmV0\r\na2 IDLE\r\nDONE\na3 NOOP\r\n'));
    const first = reader.next();
    assert.ok(first?.type === 'command' && first.name === 'AUTHENTICATE');
    reader.readRawLine();
    assert.deepEqual(reader.next(), { type: 'line', text: 'AGZyZWQAc2VjcmV0' });
    const idle = reader.next();
    assert.ok(idle?.type === 'command' && idle.name === 'IDLE');
    reader.readRawLine();
    assert.deepEqual(reader.next(), { type: 'line', text: 'DONE' });
    const noop = reader.next();
    assert.ok(noop?.type === 'command' && noop.tag === 'a3');
  });

  test('raw line split byte by byte', () => {
    const reader = new CommandReader();
    reader.readRawLine();
    let got: ReaderEvent | undefined;
    for (const b of Buffer.from('*\r\n')) {
      reader.push(Buffer.from([b]));
      got ??= reader.next();
    }
    assert.deepEqual(got, { type: 'line', text: '*' });
  });

  test('readRawLine in the middle of a command throws', () => {
    const reader = new CommandReader();
    reader.push(Buffer.from('a1 NOO'));
    reader.next();
    assert.throws(() => reader.readRawLine());
  });

  test('takeBuffered removes pipelined bytes after STARTTLS', () => {
    const reader = new CommandReader();
    reader.push(Buffer.from('a1 STARTTLS\r\na2 LOGIN injected x\r\n'));
    assert.equal((reader.next() as { name: string }).name, 'STARTTLS');
    assert.equal(reader.takeBuffered().toString(), 'a2 LOGIN injected x\r\n');
    assert.equal(reader.next(), undefined);
  });
});

describe('properties', () => {
  const script =
    'a001 LOGIN {4}\r\nuser "pa\\"ss"\r\n' +
    'a002 SELECT "INBOX"\r\n' +
    'a003 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.512> BINARY[1]) (CHANGEDSINCE 5)\r\n' +
    'a004 X ) junk\r\n' +
    'a005 APPEND INBOX (\\Seen) "17-Jul-1996 02:44:25 -0700" {12+}\r\nHello\r\nWorld\r\n' +
    'a006 SEARCH OR (FROM "x" TO y) NOT 1:3\n' +
    'a007 X {5+}\r\n\0\0\0\0\0 ((a b) (c)) NIL ~{1+}\r\n\0\r\n';

  test('every chunking gives the same events', () => {
    const whole = feed(script);
    assert.equal(commands(whole).length, 6);
    assert.deepEqual(byteByByte(script), whole);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: script.length - 1 }), { maxLength: 20 }), (cuts) => {
        assert.deepEqual(feed(script, cuts), whole);
      }),
      { numRuns: 300 },
    );
  });

  test('random junk never throws; it only yields events', () => {
    const alphabet = fc.constantFrom(
      ...'a1 ()[]{}"\\\r\n~+*%0123456789<>.BODY[NIL\0\x7f\xff'.split(''),
      '{3}\r\n',
      '{2+}\r\n',
      'BODY[',
      'a1 ',
      '\r\n',
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 200 }), fc.array(fc.nat(400), { maxLength: 10 }), (parts, cuts) => {
        const input = Buffer.from(parts.join(''), 'latin1');
        const events = feed(input, cuts, { maxLiteralSize: 64, maxNestingDepth: 5, maxLineLength: 300 });
        for (const e of events) assert.ok(typeof e === 'object' && e !== null);
        assert.deepEqual(events, feed(input, [], { maxLiteralSize: 64, maxNestingDepth: 5, maxLineLength: 300 }));
      }),
      { numRuns: 400 },
    );
  });
});
