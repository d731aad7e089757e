// POP3 multi-line bodies (RFC 1939 section 3): dot-stuffing, TOP's header + n lines cut, the terminator;
// any chunking gives the same bytes as a line-by-line reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DotStuffing } from '../../../src/protocols/pop3/dot-stuffing.js';
import { toCrlf, crlfSize } from '../../../src/storage/common/crlf.js';
import { chunked } from '../../helpers/chunks.js';

/** The plain reading of RFC 1939: split into lines, stuff, cut for TOP, terminate. */
function reference(message: string, top?: number): string {
  const lines = message.split('\r\n');
  const endsWithCrlf = message.endsWith('\r\n');
  if (endsWithCrlf) lines.pop();
  const out: string[] = [];
  let inBody = false;
  let bodyLines = 0;
  for (const line of lines) {
    if (inBody && top !== undefined && bodyLines >= top) break;
    out.push(line.startsWith('.') ? '.' + line : line);
    if (inBody) bodyLines++;
    else if (line === '') inBody = true;
  }
  return out.map((l) => l + '\r\n').join('') + '.\r\n';
}

function run(chunks: Buffer[], top?: number): string {
  const d = new DotStuffing(top);
  return Buffer.concat([...chunks.map((c) => d.process(c)), d.finish()]).toString('latin1');
}

test('examples: stuffing, TOP 0 and TOP 1, a message without a final CRLF', () => {
  const m = 'Subject: x\r\n.hidden: y\r\n\r\n.line one\r\nline two\r\n..three\r\n';
  assert.equal(run([Buffer.from(m)]), 'Subject: x\r\n..hidden: y\r\n\r\n..line one\r\nline two\r\n...three\r\n.\r\n');
  assert.equal(run([Buffer.from(m)], 0), 'Subject: x\r\n..hidden: y\r\n\r\n.\r\n');
  assert.equal(run([Buffer.from(m)], 1), 'Subject: x\r\n..hidden: y\r\n\r\n..line one\r\n.\r\n');
  assert.equal(run([Buffer.from('Subject: x\r\n\r\nno end')]), 'Subject: x\r\n\r\nno end\r\n.\r\n');
});

test('any chunking and any TOP count agree with the line-by-line reference', () => {
  const line = fc.stringMatching(/^[.a-z ]{0,6}$/);
  fc.assert(
    fc.property(fc.array(line, { maxLength: 6 }), fc.array(line, { maxLength: 8 }), fc.option(fc.nat(10), { nil: undefined }), fc.array(fc.nat(40), { maxLength: 6 }), (header, body, top, cuts) => {
      const message = header.filter((l) => l !== '').map((l) => l + '\r\n').join('') + '\r\n' + body.map((l) => l + '\r\n').join('');
      const buf = Buffer.from(message, 'latin1');
      assert.equal(run(chunked(buf, cuts), top), reference(message, top));
    }),
    { numRuns: 300 },
  );
});

test('toCrlf turns bare LF into CRLF and leaves CRLF alone', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', '\n', '\r\n', '\r', 'b'), { maxLength: 30 }), (parts) => {
      const input = Buffer.from(parts.join(''), 'latin1');
      const expected = parts.join('').replace(/\r?\n/g, '\r\n');
      assert.equal(toCrlf(input).toString('latin1'), expected);
      assert.equal(crlfSize(input), Buffer.byteLength(expected, 'latin1'));
    }),
    { numRuns: 300 },
  );
});
