// Checks Roost's MIME answers (ENVELOPE, BODYSTRUCTURE, BODY, RFC822.SIZE, BODY[section], BINARY) against the
// answers Dovecot 2.3.19 gave for the same corpus (recorded by scripts/record-dovecot-mime.ts).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMessage, writeEnvelope, writeBodyStructure, writeBody, parseSectionSpec, fetchSection, fetchBinary, binarySize, BinaryDecodeError } from '../../../src/mail/index.js';

interface RecordedItem {
  item: string;
  text?: string;
  base64?: string;
  literal8?: boolean;
  nil?: boolean;
  error?: string;
}

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/mime');
const answers = JSON.parse(readFileSync(join(fixtures, 'dovecot-answers.json'), 'utf8')) as { recorded: { file: string; items: RecordedItem[] }[] };

/** Items whose Dovecot answer depends on whole-message binary conversion state that Roost does not model. */
const KNOWN_DIFFERENCES = new Set<string>([]);

function expectedBytes(it: RecordedItem): string {
  if (it.text !== undefined) return it.text;
  return Buffer.from(it.base64 ?? '', 'base64').toString('latin1');
}

function roostAnswer(message: Buffer, item: string): { value?: string; error?: string } {
  const parsed = parseMessage(message);
  if (item === 'ENVELOPE') return { value: writeEnvelope(parsed.envelope) };
  if (item === 'BODYSTRUCTURE') return { value: writeBodyStructure(parsed.root) };
  if (item === 'BODY') return { value: writeBody(parsed.root) };
  if (item === 'RFC822.SIZE') return { value: String(parsed.root.headerSize.virtual + parsed.root.bodySize.virtual) };
  const body = /^BODY\.PEEK\[(.*)\]$/.exec(item);
  if (body) {
    const spec = parseSectionSpec(body[1]!);
    assert.ok(spec, `section ${body[1]} parses`);
    return { value: fetchSection(message, parsed, spec).toString('latin1') };
  }
  const binary = /^BINARY(\.PEEK|\.SIZE)\[(.*)\]$/.exec(item);
  if (binary) {
    try {
      if (binary[1] === '.SIZE') return { value: String(binarySize(message, parsed, binary[2]!)) };
      return { value: fetchBinary(message, parsed, binary[2]!).toString('latin1') };
    } catch (err) {
      if (err instanceof BinaryDecodeError) return { error: err.code };
      throw err;
    }
  }
  throw new Error(`unknown item ${item}`);
}

describe('parity with Dovecot 2.3.19', () => {
  let compared = 0;
  const mismatches: string[] = [];
  for (const recorded of answers.recorded) {
    test(recorded.file, () => {
      const message = readFileSync(join(fixtures, 'messages', recorded.file));
      const failures: string[] = [];
      for (const it of recorded.items) {
        if (KNOWN_DIFFERENCES.has(`${recorded.file} ${it.item}`)) continue;
        const mine = roostAnswer(message, it.item);
        compared++;
        if (it.error !== undefined) {
          const code = /\[([A-Z-]+)\]/.exec(it.error)?.[1];
          if (mine.error !== code) failures.push(`${it.item}: Dovecot said ${it.error}, Roost gave ${mine.error ?? JSON.stringify(mine.value?.slice(0, 80))}`);
          continue;
        }
        const expected = it.text === undefined && it.base64 !== undefined && /^(ENVELOPE|BODYSTRUCTURE|BODY)$/.test(it.item) ? `{${expectedBytes(it).length}}\r\n${expectedBytes(it)}` : expectedBytes(it);
        if (mine.value !== expected) failures.push(`${it.item}:\n  dovecot ${JSON.stringify(expected).slice(0, 400)}\n  roost   ${JSON.stringify(mine.value ?? mine.error).slice(0, 400)}`);
      }
      mismatches.push(...failures.map((f) => `${recorded.file} ${f}`));
      assert.deepEqual(failures, []);
    });
  }
  test('summary', () => {
    console.log(`compared ${compared} Dovecot answers for ${answers.recorded.length} messages, ${mismatches.length} mismatches`);
    assert.ok(compared >= 600);
  });
});
