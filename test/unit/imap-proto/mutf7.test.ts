// Tests for modified UTF-7 mailbox names (RFC 3501 section 5.1.3): the RFC's example, round trips,
// and rejection of non-canonical, unterminated and malformed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMutf7, encodeMutf7, isValidMutf7, Mutf7Error } from '../../../src/lib/mutf7.js';

const rows: Array<[string, string]> = [
  ['~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'], // RFC 3501 5.1.3
  ['INBOX', 'INBOX'],
  ['Tom & Jerry', 'Tom &- Jerry'],
  ['Entw\u00fcrfe', 'Entw&APw-rfe'],
  ['\u00e9t\u00e9', '&AOk-t&AOk-'],
  ['\ud83d\udce7 mail', '&2D3c5w- mail'],
  ['', ''],
];

test('RFC 3501 example and common names encode and decode', () => {
  for (const [text, wire] of rows) {
    assert.equal(encodeMutf7(text), wire, text);
    assert.equal(decodeMutf7(wire), text, wire);
  }
});

test('non-canonical and malformed input is rejected', () => {
  for (const bad of [
    '&AGE-', // "a" must be written directly
    '&ACY-', // "&" must be written "&-"
    '&AOk-&AOk-', // two adjacent shifts must be one
    '&', // unterminated
    '&AOk', // unterminated
    '&Jjo!-', // "!" is not base64
    '&AOl-', // leftover bits not zero
    '&2D3-', // lone high surrogate
    '&3gc-', // lone low surrogate
    'caf\u00e9', // raw 8-bit
    'a\tb', // control character
    '&AOk=-', // padding is not allowed
  ]) {
    assert.throws(() => decodeMutf7(bad), Mutf7Error, JSON.stringify(bad));
    assert.equal(isValidMutf7(bad), false);
  }
});

test('round trip for any string of well-formed UTF-16', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (s) => {
      const wire = encodeMutf7(s);
      assert.match(wire, /^[\x20-\x7e]*$/);
      assert.equal(decodeMutf7(wire), s);
    }),
    { numRuns: 500 },
  );
});
