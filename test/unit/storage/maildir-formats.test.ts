// Byte-exact tests of the Dovecot/Maildir file formats Roost reads and writes: dovecot-uidlist v3 (and v1, Courier),
// dovecot-keywords, file names with S=/W= and :2, flags, maildirsize, subscriptions, mail locations, names, CRLF.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parseUidlist, formatUidlist, formatUidlistRecord, effectiveNextUid, parseCourierUidlist, UidlistParseError } from '../../../src/storage/backends/maildir/uidlist.js';
import { parseKeywordsFile, formatKeywordsFile, freeKeywordIndex } from '../../../src/storage/backends/maildir/keywords.js';
import { parseMaildirFilename, lettersToFlags, flagsToLetters, withInfo, newBaseFilename } from '../../../src/storage/backends/maildir/filename.js';
import { parseMaildirsize, formatMaildirsize, parseQuotaRule, formatDeltaLine } from '../../../src/storage/backends/maildir/maildirsize.js';
import { parseSubscriptions, formatSubscriptions } from '../../../src/storage/list/subscriptions.js';
import { validateMailboxName, encodeMutf7, decodeMutf7 } from '../../../src/storage/list/names.js';
import { parseMailLocation } from '../../../src/storage/location.js';
import { CrlfToLf, LfToCrlf, crlfSize } from '../../../src/storage/common/crlf.js';
import { StorageError } from '../../../src/storage/errors.js';

// Written by Dovecot 2.3.19 (LMTP delivery of two messages), byte for byte.
const DOVECOT_UIDLIST = '3 V1795311361 N1 Ge0a650190147026bf12f000083ecc375\n1 :1795311361.M424716P12273.vm,S=234,W=246\n2 :1795311361.M450028P12276.vm,S=243,W=256\n';

describe('dovecot-uidlist', () => {
  test('parses and rewrites Dovecot 2.3 output byte for byte', () => {
    const list = parseUidlist(DOVECOT_UIDLIST);
    assert.equal(list.version, 3);
    assert.equal(list.uidValidity, 1795311361);
    assert.equal(list.guid, 'e0a650190147026bf12f000083ecc375');
    assert.deepEqual(list.records.map((r) => [r.uid, r.filename]), [[1, '1795311361.M424716P12273.vm,S=234,W=246'], [2, '1795311361.M450028P12276.vm,S=243,W=256']]);
    assert.equal(effectiveNextUid(list), 3, 'a stale N header does not hold back UIDs');
    assert.equal(formatUidlist(list), DOVECOT_UIDLIST);
  });
  test('record extensions are kept in order', () => {
    const list = parseUidlist('3 V5 N10 Gabc\n7 G0123 W99 :name,S=1\n');
    assert.equal(list.records[0]!.ext.get('G'), '0123');
    assert.equal(formatUidlistRecord(list.records[0]!), '7 G0123 W99 :name,S=1\n');
    assert.equal(effectiveNextUid(list), 10);
  });
  test('records without extensions share one empty map (a large uidlist is kept in memory while its mailbox is open)', () => {
    const list = parseUidlist('3 V5 N10 Gabc\n7 :a,S=1\n8 :b,S=1\n9 W4 :c,S=1\n');
    assert.equal(list.records[0]!.ext.size, 0);
    assert.equal(list.records[0]!.ext, list.records[1]!.ext);
    assert.equal(list.records[2]!.ext.get('W'), '4');
    assert.equal(formatUidlist(list), '3 V5 N10 Gabc\n7 :a,S=1\n8 :b,S=1\n9 W4 :c,S=1\n');
  });
  test('version 1 and corrupt files', () => {
    const v1 = parseUidlist('1 1234 5\n3 abc.host\n4 def.host\n');
    assert.equal(v1.uidValidity, 1234);
    assert.deepEqual(v1.records.map((r) => r.filename), ['abc.host', 'def.host']);
    assert.throws(() => parseUidlist('3 V1 N1\n2 :a\n1 :b\n'), UidlistParseError);
    assert.throws(() => parseUidlist('9 V1\n'), UidlistParseError);
  });
  test('courierimapuidlist', () => {
    const c = parseCourierUidlist('1 1700000000 4\n2 b.host:2,S\n1 a.host\n');
    assert.equal(c.uidValidity, 1700000000);
    assert.deepEqual(c.records, [{ uid: 1, filename: 'a.host' }, { uid: 2, filename: 'b.host' }]);
  });
});

describe('dovecot-keywords and flag letters', () => {
  test('keywords file round trip as Dovecot writes it', () => {
    const text = '0 $Forwarded\n1 Junk\n';
    const map = parseKeywordsFile(text);
    assert.deepEqual([...map], [[0, '$Forwarded'], [1, 'Junk']]);
    assert.equal(formatKeywordsFile(map), text);
    assert.equal(freeKeywordIndex(map), 2);
  });
  test('file names', () => {
    const p = parseMaildirFilename('1795311361.M450028P12276.vm,S=243,W=256:2,FRT');
    assert.equal(p.base, '1795311361.M450028P12276.vm,S=243,W=256');
    assert.equal(p.size, 243);
    assert.equal(p.vsize, 256);
    assert.equal(p.letters, 'FRT');
    assert.deepEqual(lettersToFlags('FRTabP'), { systemFlags: ['\\Flagged', '\\Answered', '\\Deleted'], keywordIndexes: [0, 1], other: 'P' });
    assert.equal(flagsToLetters(['\\Seen', '\\Draft', '\\Flagged'], [1, 0], 'P'), 'DFPSab');
    assert.equal(withInfo('x', 'S'), 'x:2,S');
    const base = newBaseFilename(10, 12);
    assert.match(base, /^\d+\.M\d+P\d+\.[^/:]+,S=10,W=12$/);
    assert.notEqual(newBaseFilename(10, 12), newBaseFilename(10, 12));
    assert.deepEqual(parseMaildirFilename('plain.host'), { base: 'plain.host', letters: '', hasInfo: false });
  });
});

describe('maildirsize and quota rules', () => {
  test('limits line, deltas, totals', () => {
    const text = formatMaildirsize({ storage: 1048576, messages: 1000 }, 5000, 3) + formatDeltaLine(100, 1) + formatDeltaLine(-50, -1);
    assert.equal(text, '1048576S,1000C\n5000 3\n100 1\n-50 -1\n');
    assert.deepEqual(parseMaildirsize(text), { limits: { storage: 1048576, messages: 1000 }, bytes: 5050, count: 3, fileLength: text.length });
    assert.equal(parseMaildirsize('1S\n1 1'), undefined, 'a partial last line forces a recalculation');
  });
  test('Dovecot quota rule syntax', () => {
    assert.deepEqual(parseQuotaRule('*:storage=1G:messages=1000'), { storage: 1024 ** 3, messages: 1000 });
    assert.deepEqual(parseQuotaRule('*:storage=100'), { storage: 102400, messages: 0 }, 'no unit means kilobytes');
    assert.deepEqual(parseQuotaRule('*:bytes=2048'), { storage: 2048, messages: 0 });
    assert.equal(parseQuotaRule('*:ignore'), undefined);
    assert.equal(parseQuotaRule(undefined), undefined);
  });
});

describe('subscriptions and names', () => {
  test('subscriptions file as Dovecot 2.3 writes it', () => {
    const text = 'V\t2\n\nSent\nSent\tSub\nEntw&APw-rfe\n';
    assert.deepEqual(parseSubscriptions(text, '.'), ['Sent', 'Sent.Sub', 'Entwürfe']);
    assert.equal(formatSubscriptions(['Sent', 'Sent.Sub', 'Entwürfe'], '.'), text);
    assert.deepEqual(parseSubscriptions('Sent\nSent.Sub\n', '.'), ['Sent', 'Sent.Sub'], 'version 1');
    assert.deepEqual(parseSubscriptions(text, '/'), ['Sent', 'Sent/Sub', 'Entwürfe']);
  });
  test('modified UTF-7, canonical only', () => {
    assert.equal(encodeMutf7('Entwürfe'), 'Entw&APw-rfe');
    assert.equal(encodeMutf7('a&b'), 'a&-b');
    assert.equal(decodeMutf7('Entw&APw-rfe'), 'Entwürfe');
    assert.throws(() => decodeMutf7('&AGE-'), StorageError);
  });
  test('names that could escape the root are refused', () => {
    for (const bad of ['..', 'a...b', '.x', 'a/b', 'a\x00b', 'a\nb', '', 'x'.repeat(300), 'a.*', '~x']) {
      assert.throws(() => validateMailboxName(bad, '.', { fsLayout: false }), (e: unknown) => e instanceof StorageError && e.code === 'BADNAME', JSON.stringify(bad));
    }
    for (const bad of ['../x', 'a/../b', 'cur', 'a/new', '/abs', 'a//b']) {
      assert.throws(() => validateMailboxName(bad, '/', { fsLayout: true }), (e: unknown) => e instanceof StorageError && e.code === 'BADNAME', JSON.stringify(bad));
    }
    assert.deepEqual(validateMailboxName('Work.Projekte ü', '.', { fsLayout: false }), ['Work', 'Projekte ü']);
  });
});

describe('mail locations', () => {
  test('variables and options', () => {
    const loc = parseMailLocation('maildir:~/Maildir:LAYOUT=fs:INDEX=/var/idx/%d/%n', 'bob@example.org', '/home/bob');
    assert.deepEqual(loc, { format: 'maildir', root: '/home/bob/Maildir', layout: 'fs', index: '/var/idx/example.org/bob', options: {} });
    assert.equal(parseMailLocation('maildir:/m/%Lu', 'Bob').root, '/m/bob');
    assert.equal(parseMailLocation('mbox:/m/%u:INBOX=/var/mail/%u', 'bob').inbox, '/var/mail/bob');
    assert.throws(() => parseMailLocation('maildir:~/Maildir', 'bob'), StorageError);
    assert.throws(() => parseMailLocation('sdbox:/x', 'bob'), StorageError);
  });
});

describe('line ends', () => {
  const collect = async (input: Buffer[], t: NodeJS.ReadWriteStream): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of Readable.from(input).pipe(t)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  test('CRLF to LF on save, split across chunks, with both sizes', async () => {
    const conv = new CrlfToLf();
    const out = await collect([Buffer.from('a\r'), Buffer.from('\nb\r\r\n'), Buffer.from('c\n\r')], conv);
    assert.equal(out.toString('latin1'), 'a\nb\r\nc\n\r');
    assert.equal(conv.physicalSize, 8);
    assert.equal(conv.virtualSize, crlfSize(out));
    assert.equal(conv.virtualSize, 10);
  });
  test('LF to CRLF on read, with byte ranges', async () => {
    const input = [Buffer.from('ab\ncd'), Buffer.from('\r\nef\n')];
    assert.equal((await collect(input, new LfToCrlf())).toString(), 'ab\r\ncd\r\nef\r\n');
    assert.equal((await collect(input, new LfToCrlf(3, 9))).toString(), '\ncd\r\ne');
  });
});
