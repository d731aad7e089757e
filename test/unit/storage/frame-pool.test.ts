// The pool of read buffers (src/storage/common/frame-pool.ts): a buffer given back is handed out again, once; buffers
// it did not make, and reads past its largest size, never enter it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { releaseFrame, takeFrame } from '../../../src/storage/common/frame-pool.js';

test('a buffer given back is reused for the next read of its size class, and only once', () => {
  const first = takeFrame(20_000);
  assert.equal(first.length, 20_000);
  releaseFrame(first.subarray(100, 200)); // any view of it gives it back
  releaseFrame(first); // a second release is ignored
  const again = takeFrame(30_000);
  assert.equal(again.buffer, first.buffer, 'same memory, same 32 KiB class');
  assert.equal(again.length, 30_000);
  const other = takeFrame(30_000);
  assert.notEqual(other.buffer, first.buffer, 'the pool held it once, not twice');
});

test('foreign buffers and large reads are not pooled', () => {
  const foreign = Buffer.allocUnsafeSlow(32 * 1024);
  releaseFrame(foreign);
  assert.notEqual(takeFrame(32 * 1024).buffer, foreign.buffer);
  const large = takeFrame(3 * 1024 * 1024);
  releaseFrame(large);
  assert.notEqual(takeFrame(3 * 1024 * 1024).buffer, large.buffer);
});
