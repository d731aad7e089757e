// Tests for the IMAP response serialiser (RFC 9051 sections 4, 7, 9; RFC 6855): string form choice,
// escaping, NIL, lists, flags, dates, mailbox names in modified UTF-7 vs UTF-8, status lines with codes,
// streamed literals, and the serialise -> parse round trip through the command reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import {
  NIL, astr, atom, chunksToBuffer, continuation, dateTime, encodeValues, flagList, formatMailbox, list, literal,
  mailbox, nstr, num, raw, str, tagged, untagged, untaggedStatus, writeChunks,
} from '../../../src/protocols/imap/proto/response.js';
import { CommandReader } from '../../../src/protocols/imap/proto/command-reader.js';
import { SequenceSet } from '../../../src/lib/sequence-set.js';

const text = (chunks: ReturnType<typeof untagged>) => chunksToBuffer(chunks).toString('latin1');

test('strings: quoted when safe, escaped, literal for CR/LF/NUL/8-bit', () => {
  assert.equal(text(encodeValues([str('hello world')])), '"hello world"');
  assert.equal(text(encodeValues([str('say "hi" \\o/')])), '"say \\"hi\\" \\\\o/"');
  assert.equal(text(encodeValues([str('a\r\nb')])), '{4}\r\na\r\nb');
  assert.equal(text(encodeValues([str('caf\u00e9')])), '{5}\r\ncaf\u00c3\u00a9');
  assert.equal(chunksToBuffer(encodeValues([str('caf\u00e9')], { utf8: true })).toString('utf8'), '"caf\u00e9"');
  assert.equal(text(encodeValues([str(Buffer.from([0xff, 0x41]))], { utf8: true })), '{2}\r\n\u00ffA');
  assert.equal(text(encodeValues([str('')])), '""');
  assert.equal(text(encodeValues([nstr(null), nstr('x'), NIL])), 'NIL "x" NIL');
  assert.equal(text(encodeValues([astr('abc'), astr('NIL'), astr('a b'), astr('')])), 'abc "NIL" "a b" ""');
});

test('lists, numbers, flags, dates and raw item names', () => {
  const v = [num(12), raw('FETCH'), list([raw('FLAGS'), flagList(['\\Seen', '$Junk']), raw('UID'), num(4827313n), raw('INTERNALDATE'), dateTime(new Date(Date.UTC(1996, 6, 17, 9, 44, 25)), -420)])];
  assert.equal(text(untagged(v)), '* 12 FETCH (FLAGS (\\Seen $Junk) UID 4827313 INTERNALDATE "17-Jul-1996 02:44:25 -0700")\r\n');
  assert.equal(text(encodeValues([list([])])), '()');
  assert.throws(() => atom('a b'));
  assert.throws(() => num(-1));
  assert.throws(() => raw('x\r\n'));
});

test('mailbox names: modified UTF-7 unless UTF8=ACCEPT is enabled', () => {
  assert.equal(formatMailbox('Entw\u00fcrfe', { utf8: false }), 'Entw&APw-rfe');
  assert.equal(formatMailbox('Tom & Jerry', { utf8: false }), '"Tom &- Jerry"');
  assert.equal(formatMailbox('inbox', { utf8: false }), 'INBOX');
  assert.equal(chunksToBuffer(encodeValues([mailbox('Entw\u00fcrfe', { utf8: true })], { utf8: true })).toString('utf8'), '"Entw\u00fcrfe"');
  assert.equal(text(encodeValues([mailbox('a"b', { utf8: false })])), '"a\\"b"');
});

test('status lines with response codes (RFC 9051 examples)', () => {
  assert.equal(tagged('A142', 'OK', 'SELECT completed', { name: 'READ-WRITE' }).toString(), 'A142 OK [READ-WRITE] SELECT completed\r\n');
  assert.equal(untaggedStatus('OK', 'Predicted next UID', { name: 'UIDNEXT', args: [num(4392)] }).toString(), '* OK [UIDNEXT 4392] Predicted next UID\r\n');
  assert.equal(
    untaggedStatus('OK', 'Limited', { name: 'PERMANENTFLAGS', args: [flagList(['\\Deleted', '\\Seen', '\\*'])] }).toString(),
    '* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n',
  );
  assert.equal(
    tagged('A003', 'OK', 'APPEND completed', { name: 'APPENDUID', args: [num(38505), num(3955)] }).toString(),
    'A003 OK [APPENDUID 38505 3955] APPEND completed\r\n',
  );
  assert.equal(
    untaggedStatus('OK', 'ready', { name: 'CAPABILITY', args: ['IMAP4rev2', 'IMAP4rev1', 'LITERAL+', 'AUTH=PLAIN'].map(atom) }).toString(),
    '* OK [CAPABILITY IMAP4rev2 IMAP4rev1 LITERAL+ AUTH=PLAIN] ready\r\n',
  );
  assert.equal(tagged('a', 'NO', 'bad\r\ntext').toString(), 'a NO bad text\r\n');
  assert.equal(tagged('a', 'BAD', '[x] y').toString(), 'a BAD  [x] y\r\n');
  assert.equal(continuation().toString(), '+ \r\n');
  assert.equal(continuation('Ready for literal data').toString(), '+ Ready for literal data\r\n');
  assert.throws(() => tagged('a', 'OK', 'x', { name: 'BAD CODE' }));
});

test('streamed literals keep their place and are checked for length', async () => {
  const body = Buffer.alloc(200_000, 0x61);
  const chunks = untagged([num(1), raw('FETCH'), list([raw('BODY[]'), literal(Readable.from([body.subarray(0, 1000), body.subarray(1000)]), body.length), raw('UID'), num(9)])]);
  assert.equal(chunks.length, 3);
  assert.throws(() => chunksToBuffer(chunks));
  const parts: Buffer[] = [];
  const out = new Writable({ highWaterMark: 1024, write(c: Buffer, _e, cb) { parts.push(c); setImmediate(cb); } });
  await writeChunks(chunks, out);
  const all = Buffer.concat(parts).toString('latin1');
  assert.equal(all, `* 1 FETCH (BODY[] {200000}\r\n${body.toString('latin1')} UID 9)\r\n`);

  const short = untagged([literal(Readable.from([Buffer.from('abc')]), 5)]);
  await assert.rejects(writeChunks(short, new PassThrough().resume()));
  const long = untagged([literal(Readable.from([Buffer.from('abcdef')]), 5)]);
  await assert.rejects(writeChunks(long, new PassThrough().resume()));
  assert.equal(text(encodeValues([literal(Buffer.from('\0x'), undefined, true)])), '~{2}\r\n\0x');
});

function parseBack(value: Buffer): string {
  const reader = new CommandReader();
  reader.push(Buffer.concat([Buffer.from('t X '), value, Buffer.from('\r\n')]));
  let e = reader.next();
  while (e?.type === 'continue') e = reader.next();
  assert.ok(e?.type === 'command', JSON.stringify(e));
  const tok = e.args[0]!;
  if (tok.type === 'string') return tok.value;
  if (tok.type === 'literal') return tok.value.toString('utf8');
  if (tok.type === 'atom') return tok.value;
  if (tok.type === 'nil') return tok.raw;
  throw new Error(`unexpected token ${tok.type}`);
}

test('property: serialise -> parse gives the string back (astring, string; 7-bit and UTF-8 modes)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.boolean(), (s, utf8) => {
      assert.equal(parseBack(chunksToBuffer(encodeValues([str(s)], { utf8 }))), s);
      assert.equal(parseBack(chunksToBuffer(encodeValues([astr(s)], { utf8 }))), s);
    }),
    { numRuns: 500 },
  );
});

test('property: sequence sets survive serialise -> parse', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 0xffffffff }), { minLength: 1, maxLength: 30 }), (nums) => {
      const set = SequenceSet.fromNumbers(nums);
      const back = parseBack(chunksToBuffer(encodeValues([raw(set.toString())])));
      assert.deepEqual(SequenceSet.parse(back).resolve(0xffffffff), set.resolve(0xffffffff));
    }),
    { numRuns: 200 },
  );
});
