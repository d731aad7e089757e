// Line-end conversion between Maildir/mbox files (LF) and IMAP/POP3 (CRLF): the streaming converters give the
// same bytes and sizes as a plain byte-by-byte reading of the rule, however the input is cut into chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { CrlfToLf, LfToCrlf, crlfSize, toCrlf, toCrlfInPlace } from '../../../src/storage/common/crlf.js';
import { chunked } from '../../helpers/chunks.js';

const CR = 0x0d;
const LF = 0x0a;

/** The rule for saving: a CR directly before an LF is dropped, every other byte kept. */
function referenceToLf(input: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) if (!(input[i] === CR && input[i + 1] === LF)) out.push(input[i]!);
  return Buffer.from(out);
}

/** The rule for reading: an LF without a CR directly before it gets one. */
function referenceToCrlf(input: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) {
    if (input[i] === LF && (i === 0 || input[i - 1] !== CR)) out.push(CR);
    out.push(input[i]!);
  }
  return Buffer.from(out);
}

async function collect(stream: Readable): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const chunk of stream) pieces.push(chunk as Buffer);
  return Buffer.concat(pieces);
}


const lineBytes = fc.uint8Array({ maxLength: 300, size: 'max' }).map((a) => Buffer.from(Array.from(a, (b) => [CR, LF, 0x2e, 0x61][b % 4]!)));
const cuts = fc.array(fc.nat(400), { maxLength: 8 });

test('CrlfToLf drops exactly the CRs of CRLF pairs and counts both sizes, across any chunking', async () => {
  await fc.assert(
    fc.asyncProperty(lineBytes, cuts, async (input, cutPoints) => {
      const converter = new CrlfToLf();
      const out = await collect(Readable.from(chunked(input, cutPoints)).pipe(converter));
      const expected = referenceToLf(input);
      assert.deepEqual(out, expected);
      assert.equal(converter.physicalSize, expected.length);
      assert.equal(converter.virtualSize, referenceToCrlf(expected).length);
    }),
    { numRuns: 500 },
  );
});

test('LfToCrlf puts a CR before every bare LF, across any chunking and for any output range', async () => {
  await fc.assert(
    fc.asyncProperty(lineBytes, cuts, fc.nat(700), fc.nat(700), async (input, cutPoints, a, b) => {
      const expected = referenceToCrlf(input);
      assert.deepEqual(await collect(Readable.from(chunked(input, cutPoints)).pipe(new LfToCrlf())), expected);
      const [start, end] = a <= b ? [a, b] : [b, a];
      assert.deepEqual(await collect(Readable.from(chunked(input, cutPoints)).pipe(new LfToCrlf(start, end))), expected.subarray(start, end));
      assert.deepEqual(toCrlf(input), expected);
      assert.equal(crlfSize(input), expected.length);
    }),
    { numRuns: 500 },
  );
});

test('toCrlfInPlace converts where the bytes were read, and gives the right bytes when the CR count it was told is wrong', () => {
  fc.assert(
    fc.property(lineBytes, fc.integer({ min: -3, max: 3 }), fc.nat(8), (input, countError, room) => {
      const expected = referenceToCrlf(input);
      const extra = Math.max(0, expected.length - input.length + countError);
      const buf = Buffer.alloc(room + extra + input.length + room, 0x7e);
      input.copy(buf, room + extra);
      const out = toCrlfInPlace(buf, room + extra, room + extra + input.length, extra);
      assert.deepEqual(out, expected);
      if (countError === 0) {
        // A right count leaves the message in place: in buf, starting where the room for the CRs began.
        assert.equal(out.buffer, buf.buffer);
        assert.equal(out.byteOffset, buf.byteOffset + room);
        assert.deepEqual(buf.subarray(0, room), Buffer.alloc(room, 0x7e));
        assert.deepEqual(buf.subarray(room + out.length), Buffer.alloc(room, 0x7e));
      }
    }),
    { numRuns: 1000 },
  );
});

test('toCrlfInPlace converts chunk by chunk given the byte before each chunk and room for at most its CRs', () => {
  fc.assert(
    fc.property(lineBytes, cuts, (input, cutPoints) => {
      const pieces: Buffer[] = [];
      let before = -1;
      for (const chunk of chunked(input, cutPoints)) {
        // Room for a CR per byte: more than the chunk gains, as a reader that knows only an upper bound gives.
        const room = chunk.length;
        const buf = Buffer.alloc(room + chunk.length, 0x7e);
        chunk.copy(buf, room);
        pieces.push(Buffer.from(toCrlfInPlace(buf, room, room + chunk.length, room, before)));
        before = chunk.length ? chunk[chunk.length - 1]! : before;
      }
      assert.deepEqual(Buffer.concat(pieces), referenceToCrlf(input));
    }),
    { numRuns: 1000 },
  );
});
