// The frames between Roost and its file delivery agent: the same bytes back however they are split, and input that
// ends before the final empty frame is an error (a message cut off must not be written as if whole).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chunked } from '../../helpers/chunks.js';
import { frame, unframe } from '../../../src/mta/agent-frames.js';

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of gen) out.push(b);
  return Buffer.concat(out);
}

async function* from(chunks: Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks;
}

test('framed chunks come back whole however the stream is split', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 6 }), fc.array(fc.nat(400), { maxLength: 8 }), async (parts, cuts) => {
      const input = parts.map((p) => Buffer.from(p));
      const wire = await collect(frame(from(input)));
      assert.deepEqual(await collect(unframe(from(chunked(wire, cuts)))), Buffer.concat(input));
    }),
  );
});

test('input without the final frame fails', async () => {
  const wire = await collect(frame(from([Buffer.from('hello'), Buffer.from('world')])));
  await assert.rejects(collect(unframe(from([wire.subarray(0, wire.length - 4)]))), /cut off/);
  await assert.rejects(collect(unframe(from([wire.subarray(0, 6)]))), /cut off/);
});
