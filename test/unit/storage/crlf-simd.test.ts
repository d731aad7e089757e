// The WebAssembly line-end kernels (src/storage/common/crlf-simd.wat): the committed binary is the source compiled,
// and the kernels and the JavaScript conversions give the reference bytes, for short inputs and for inputs that span
// several of the kernels' pieces with CR and LF on the piece boundaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { countBareLfsSimd, crlfToLfSimd, lfToCrlfSimd, simdKernels, toCrlfInPlaceSimd } from '../../../src/storage/common/crlf-simd.js';
import { portableConversions } from '../../../src/storage/common/crlf.js';
import { WASM_KERNELS, generatedModule } from '../../../scripts/build-wasm.js';

const CR = 0x0d;
const LF = 0x0a;
/** The kernels' piece size (crlf-simd.ts). */
const PIECE = 128 * 1024;

/** The rule for saving: a CR directly before an LF is dropped, every other byte kept. */
function referenceToLf(input: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) if (!(input[i] === CR && input[i + 1] === LF)) out.push(input[i]!);
  return Buffer.from(out);
}

function referenceToCrlf(input: Buffer, before = -1): Buffer {
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) {
    if (input[i] === LF && (i === 0 ? before : input[i - 1]) !== CR) out.push(CR);
    out.push(input[i]!);
  }
  return Buffer.from(out);
}

const implementations = [
  {
    name: 'kernels',
    bareLfCount: (b: Buffer, before: number) => countBareLfsSimd(simdKernels!, b, before),
    lfToCrlf: (b: Buffer) => lfToCrlfSimd(simdKernels!, b, -1),
    crlfToLf: (b: Buffer) => crlfToLfSimd(simdKernels!, b),
    toCrlfInPlace: (buf: Buffer, from: number, to: number, room: number, before: number) => toCrlfInPlaceSimd(simdKernels!, buf, from, to, room, before),
  },
  {
    name: 'JavaScript',
    bareLfCount: portableConversions.bareLfCount,
    lfToCrlf: (b: Buffer) => portableConversions.lfToCrlf(b, -1),
    crlfToLf: portableConversions.crlfToLf,
    toCrlfInPlace: portableConversions.toCrlfInPlace,
  },
];

/** Bytes drawn from CR, LF and two others, so that line ends of every kind sit at every offset of a 16-byte block. */
function lineBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = [CR, LF, 0x2e, 0x61, 0x61, 0x61][(x >>> 16) % 6]!;
  }
  return out;
}

test('the committed kernel binary is its .wat source compiled (run npm run build:wasm after editing the source)', async () => {
  const root = join(import.meta.dirname, '..', '..', '..');
  for (const kernel of WASM_KERNELS) assert.equal(readFileSync(join(root, kernel.out), 'utf8'), await generatedModule(root, kernel), kernel.out);
});

test('the kernels load on this Node (else every conversion falls back to JavaScript)', () => {
  assert.ok(simdKernels, 'WebAssembly SIMD kernels unavailable');
});

for (const impl of implementations) {
  test(`${impl.name}: short inputs convert as the rule says, with every byte before them`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100, size: 'max' }), fc.constantFrom(-1, CR, LF, 0x61), (bytes, before) => {
        const input = Buffer.from(Array.from(bytes, (b) => [CR, LF, 0x2e, 0x61][b % 4]!));
        const expected = referenceToCrlf(input, before);
        if (before === -1) assert.deepEqual(impl.lfToCrlf(input), expected);
        assert.deepEqual(impl.crlfToLf(input), referenceToLf(input));
        assert.equal(impl.bareLfCount(input, before), expected.length - input.length);
        const buf = Buffer.alloc(input.length * 2 + 8, 0x7e);
        input.copy(buf, input.length + 4);
        assert.deepEqual(impl.toCrlfInPlace(buf, input.length + 4, input.length * 2 + 4, input.length, before), expected);
      }),
      { numRuns: 2000 },
    );
  });

  test(`${impl.name}: inputs over several pieces, with line ends split across piece boundaries`, () => {
    for (const [seed, length] of [[1, 3 * PIECE + 5], [2, PIECE], [3, PIECE + 1], [4, 2 * PIECE - 1]] as const) {
      const input = lineBytes(length, seed);
      // A CRLF cut by the first boundary, and a bare LF first in the second piece.
      if (length > PIECE + 1) {
        input[PIECE - 1] = CR;
        input[PIECE] = LF;
      }
      if (length > 2 * PIECE) {
        input[2 * PIECE - 1] = 0x61;
        input[2 * PIECE] = LF;
      }
      const expected = referenceToCrlf(input);
      const extra = expected.length - input.length;
      assert.deepEqual(impl.lfToCrlf(input), expected, `lfToCrlf, ${length} bytes`);
      assert.deepEqual(impl.crlfToLf(input), referenceToLf(input), `crlfToLf, ${length} bytes`);
      // A CR LF pair cut by the second boundary, and a CR that ends the input (kept: the next chunk decides).
      if (length > 2 * PIECE + 1) {
        const cut = Buffer.from(input);
        cut[2 * PIECE - 1] = CR;
        cut[2 * PIECE] = LF;
        cut[length - 1] = CR;
        assert.deepEqual(impl.crlfToLf(cut), referenceToLf(cut), `crlfToLf across boundaries, ${length} bytes`);
      }
      assert.equal(impl.bareLfCount(input, -1), extra);
      // Room for exactly the CRs: converted in place, ending where the input ended.
      const exact = Buffer.alloc(extra + length);
      input.copy(exact, extra);
      const inPlace = impl.toCrlfInPlace(exact, extra, extra + length, extra, -1);
      assert.deepEqual(inPlace, expected, `in place, ${length} bytes`);
      assert.equal(inPlace.buffer, exact.buffer);
      // Room for fewer CRs than there are (a store changed behind the index): still the right bytes.
      const short = Buffer.alloc(extra + length);
      input.copy(short, extra);
      assert.deepEqual(impl.toCrlfInPlace(short, extra, extra + length, Math.floor(extra / 3), -1), expected, `short room, ${length} bytes`);
    }
  });
}
