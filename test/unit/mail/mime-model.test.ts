// Unit tests for Roost's MIME model: base subject (RFC 5256 2.1), addresses (RFC 5322 3.4), RFC 2047 decoding,
// section ranges (RFC 3501 6.4.5), BINARY decoding (RFC 3516), and chunking-independent streaming parsing.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MessageParser,
  parseMessage,
  parseAddressList,
  baseSubject,
  decodeMimeWords,
  sortAddressKey,
  parseSentDate,
  parseSectionSpec,
  sectionRange,
  fetchSection,
  fetchBinary,
  decodeQuotedPrintable,
  extractSearchText,
  writeBodyStructure,
  writeEnvelope,
  type MessagePart,
} from '../../../src/mail/index.js';

const corpus = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/mime/messages');
const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');

describe('base subject (RFC 5256 2.1)', () => {
  const rows: [string, string][] = [
    ['Re: hello', 'hello'],
    ['RE: Re: re: hello', 'hello'],
    ['Fwd: hello', 'hello'],
    ['Fw: hello', 'hello'],
    ['[list] Re: hello', 'hello'],
    ['Re: [list] Re: hello', 'hello'],
    ['Re[2]: hello', 'hello'],
    ['hello (fwd)', 'hello'],
    ['hello (fwd) (FWD)  ', 'hello'],
    ['[Fwd: Re: hello]', 'hello'],
    ['[blob]', '[blob]'],
    ['  spaced\t\tout  ', 'spaced out'],
    ['', ''],
  ];
  for (const [input, expected] of rows) test(JSON.stringify(input), () => assert.equal(baseSubject(input), expected));
});

describe('address parsing', () => {
  test('name-addr, addr-spec with comment, group', () => {
    const list = parseAddressList('"Doe, J" <j@example.com>, k@example.com (Kay), Team: a@x.org;', { fillMissing: true });
    assert.deepEqual(
      list.map((a) => [a.name, a.mailbox, a.domain]),
      [
        ['Doe, J', 'j', 'example.com'],
        ['Kay', 'k', 'example.com'],
        [null, 'Team', null],
        [null, 'a', 'x.org'],
        [null, null, null],
      ],
    );
  });
  test('route-addr and missing parts', () => {
    const [route] = parseAddressList('<@r1.example,@r2.example:u@example.com>');
    assert.equal(route!.route, '@r1.example,@r2.example');
    const [bare] = parseAddressList('justuser', { fillMissing: true });
    assert.deepEqual([bare!.mailbox, bare!.domain], ['justuser', 'MISSING_DOMAIN']);
  });
  test('SORT keys decode display names', () => {
    const key = sortAddressKey('=?UTF-8?Q?J=C3=B6rg?= <JOERG@example.de>');
    assert.equal(key.mailbox, 'JOERG');
    assert.equal(key.displayName, 'Jörg');
  });
});

describe('decoding', () => {
  test('RFC 2047 words in several charsets', () => {
    assert.equal(decodeMimeWords('=?ISO-8859-1?Q?Andr=E9?= Pirard'), 'André Pirard');
    assert.equal(decodeMimeWords('=?koi8-r?B?88XSx8XKIPDF1NLP1w==?='), 'Сергей Петров');
    assert.equal(decodeMimeWords('=?UTF-8?B?5bGx55Sw?= x'), '山田 x');
  });
  test('sent dates', () => {
    assert.equal(parseSentDate('Mon, 7 Feb 1994 21:52:25 -0800 (PST)')!.toISOString(), '1994-02-08T05:52:25.000Z');
    assert.equal(parseSentDate('7 Feb 94 21:52 GMT')!.toISOString(), '1994-02-07T21:52:00.000Z');
    assert.equal(parseSentDate('garbage'), null);
  });
  test('quoted-printable', () => {
    assert.equal(decodeQuotedPrintable(Buffer.from('a=3Db =\r\nc  \r\nd')).toString(), 'a=b c\r\nd');
  });
  test('search text decodes QP, charsets and HTML', () => {
    const msg = readFileSync(join(corpus, '04-alternative.eml'));
    const text = extractSearchText(msg, parseMessage(msg));
    assert.match(text, /Café menu: crème brûlée/);
    assert.match(text, /Second para & more/);
    assert.doesNotMatch(text, /var x/);
  });
});

describe('sections', () => {
  const msg = readFileSync(join(corpus, '07-rfc822-attached.eml'));
  const parsed = parseMessage(msg);
  test('part ranges point at the bytes', () => {
    const r = sectionRange(parsed, parseSectionSpec('2.HEADER')!)!;
    assert.ok(msg.subarray(r.range.start, r.range.end).toString().startsWith('From: Inner Sender'));
    assert.equal(fetchSection(msg, parsed, parseSectionSpec('2.TEXT')!).toString(), 'Inner body with =E2=82=AC sign.\r\n');
    assert.equal(fetchSection(msg, parsed, parseSectionSpec('1')!).toString(), 'See forwarded message below.');
  });
  test('HEADER.FIELDS keeps order and ends with the blank line', () => {
    assert.equal(
      fetchSection(msg, parsed, parseSectionSpec('HEADER.FIELDS (Subject From)')!).toString(),
      'From: fwd@example.com\r\nSubject: Fwd: The forwarded one\r\n\r\n',
    );
  });
  test('missing parts and invalid specs', () => {
    assert.equal(fetchSection(msg, parsed, parseSectionSpec('7')!).length, 0);
    assert.equal(parseSectionSpec('1.'), null);
    assert.equal(parseSectionSpec('MIME'), null);
  });
  test('BINARY decodes the enclosed message and marks it binary', () => {
    const bin = fetchBinary(msg, parsed, '2').toString('utf8');
    assert.match(bin, /Content-Transfer-Encoding: binary\r\n\r\nInner body with € sign/);
  });
});

function shape(part: MessagePart): unknown {
  return [part.physicalPos, part.headerSize, part.bodySize, part.section, part.children.map(shape)];
}

describe('streaming', () => {
  for (const file of readdirSync(corpus).filter((f) => f.endsWith('.eml'))) {
    test(`${file}: byte-by-byte and odd chunks give the same structure`, () => {
      const msg = readFileSync(join(corpus, file));
      const whole = parseMessage(msg);
      for (const size of [1, 3, 77]) {
        const p = new MessageParser();
        for (let i = 0; i < msg.length; i += size) p.write(msg.subarray(i, i + size));
        const chunked = p.end();
        assert.deepEqual(shape(chunked.root), shape(whole.root));
        assert.equal(writeBodyStructure(chunked.root), writeBodyStructure(whole.root));
        assert.equal(writeEnvelope(chunked.envelope), writeEnvelope(whole.envelope));
      }
    });
  }

  test('a 10 MB base64 attachment parses in linear time', () => {
    const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n';
    const body = line.repeat(Math.ceil((10 * 1024 * 1024) / line.length));
    const head = crlf('From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=big\n\n--big\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n');
    const msg = Buffer.concat([head, Buffer.from(body), crlf('--big--\n')]);
    const p = new MessageParser();
    for (let i = 0; i < msg.length; i += 65536) p.write(msg.subarray(i, i + 65536));
    const parsed = p.end();
    const part = parsed.root.children[0]!;
    assert.equal(part.bodySize.physical, body.length - 2);
    assert.equal(part.bodySize.lines, body.length / line.length - 1);
    const unterminated = new MessageParser();
    const blob = Buffer.alloc(10 * 1024 * 1024, 0x41);
    unterminated.write(crlf('Subject: blob\n\n'));
    for (let i = 0; i < blob.length; i += 4096) unterminated.write(blob.subarray(i, i + 4096));
    assert.equal(unterminated.end().root.bodySize.physical, blob.length);
  });
});
