// Tests for IMAP sequence sets (RFC 9051 section 9 sequence-set, RFC 5182 "$"): parsing, rejection of
// invalid sets, "*" resolution, membership, iteration and the compressed form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compressNumbers, SequenceSet, SequenceSetError } from '../../../src/lib/sequence-set.js';

test('parses and resolves against the largest number in use', () => {
  const set = SequenceSet.parse('1,3:5,7:*');
  assert.equal(set.toString(), '1,3:5,7:*');
  assert.deepEqual(set.resolve(10), [[1, 1], [3, 5], [7, 10]]);
  assert.deepEqual([...set.values(8)], [1, 3, 4, 5, 7, 8]);
  assert.equal(set.count(10), 8);
  assert.equal(set.has(6, 10), false);
  assert.equal(set.has(9, 10), true);
  assert.equal(set.has(11, 10), false);
});

test('reversed ranges, "*" alone and ranges past the end (RFC 9051: n:* with n > max is max)', () => {
  assert.deepEqual(SequenceSet.parse('5:2').resolve(10), [[2, 5]]);
  assert.deepEqual(SequenceSet.parse('*').resolve(4), [[4, 4]]);
  assert.deepEqual(SequenceSet.parse('7:*').resolve(3), [[3, 3]]);
  assert.deepEqual(SequenceSet.parse('*:7').resolve(3), [[3, 3]]);
  assert.deepEqual(SequenceSet.parse('1:*').resolve(0), []);
  assert.deepEqual(SequenceSet.parse('3,1,2,9:8,2').resolve(100), [[1, 3], [8, 9]]);
  assert.equal(SequenceSet.parse('4827313:4828442').has(4828000, 5_000_000), true);
});

test('"$" is the saved result and must be substituted before use', () => {
  const saved = SequenceSet.parse('$');
  assert.equal(saved.saved, true);
  assert.throws(() => saved.resolve(5), SequenceSetError);
  assert.throws(() => SequenceSet.parse('$', { allowSaved: false }), SequenceSetError);
});

test('invalid sets are rejected', () => {
  for (const bad of ['0', '', '1:', ':1', 'a', '1,,2', '1:2:3', '01', '1:0', '4294967296', ',1', '1,', '$,1', '1 2', '-1', '*:*:*']) {
    assert.throws(() => SequenceSet.parse(bad), SequenceSetError, JSON.stringify(bad));
  }
  assert.throws(() => SequenceSet.parse('1:*', { allowStar: false }), SequenceSetError);
  assert.equal(SequenceSet.parse('4294967295').resolve(4294967295).length, 1);
});

test('fromNumbers and compressNumbers give the canonical form', () => {
  assert.equal(SequenceSet.fromNumbers([5, 1, 2, 3, 9, 10]).toString(), '1:3,5,9:10');
  assert.equal(compressNumbers([7, 3, 4, 4, 5]), '3:5,7');
  assert.throws(() => SequenceSet.fromNumbers([0]), SequenceSetError);
});

test('property: compress -> parse -> values is the sorted unique input', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 60 }), (nums) => {
      const text = compressNumbers(nums);
      const parsed = SequenceSet.parse(text);
      const expected = [...new Set(nums)].sort((a, b) => a - b);
      assert.deepEqual([...parsed.values(300)], expected);
      for (let n = 1; n <= 300; n++) assert.equal(parsed.has(n, 300), expected.includes(n));
      assert.equal(SequenceSet.parse(parsed.toString()).toString(), text);
    }),
    { numRuns: 200 },
  );
});

test('property: membership with "*" agrees with resolve', () => {
  const seq = fc.oneof(fc.integer({ min: 1, max: 50 }).map(String), fc.constant('*'));
  const range = fc.oneof(seq, fc.tuple(seq, seq).map(([a, b]) => `${a}:${b}`));
  fc.assert(
    fc.property(fc.array(range, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 60 }), (parts, max) => {
      const set = SequenceSet.parse(parts.join(','));
      const values = new Set(set.values(max));
      for (let n = 0; n <= 62; n++) assert.equal(set.has(n, max), values.has(n));
    }),
    { numRuns: 300 },
  );
});
