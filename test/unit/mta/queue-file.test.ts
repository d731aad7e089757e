// Queue files written from a content stream in any chunking (few or many chunks, small or past the in-memory
// limit) read back as the same envelope and content; small content comes back in its chunks, never copied together.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEADER_LENGTH, SMALL_CONTENT, readQueueFile, writeQueueFile, type QueueEnvelope } from '../../../src/mta/queue-file.js';

const dir = mkdtempSync(join(tmpdir(), 'roost-queue-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const envelope: QueueEnvelope = { id: 'ABC', sender: 's@example.org', recipients: [{ address: 'r@example.org', route: 'local' }], arrivalTime: 1, client: { ip: '127.0.0.1', helo: 'h', protocol: 'ESMTP' } };

async function* chunked(data: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

test('any chunking reads back as written', async () => {
  const prefix = Buffer.from('Received: by test\r\n');
  const cases: [string, number, number][] = [
    ['one small chunk', 4096, 4096],
    ['a thousand tiny chunks (more than one writev)', 3000, 3],
    ['past the in-memory limit in 64 KiB chunks', SMALL_CONTENT * 2 + 123, 65536],
    ['past the in-memory limit in 100-byte chunks', SMALL_CONTENT + 5000, 100],
  ];
  for (const [name, size, chunk] of cases) {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = 32 + (i % 90);
    const path = join(dir, name.replace(/\W+/g, '-'));
    const written = await writeQueueFile(path, prefix, chunked(data, chunk), envelope);
    const want = Buffer.concat([prefix, data]);
    assert.equal(written.contentLength, want.length, name);
    const state = readQueueFile(path);
    assert.deepEqual(state.envelope, envelope, name);
    assert.equal(state.contentLength, want.length, name);
    assert.ok(readFileSync(path).subarray(HEADER_LENGTH, HEADER_LENGTH + want.length).equals(want), name);
    if (want.length < SMALL_CONTENT) assert.ok(written.content && Buffer.concat(written.content).equals(want), `${name}: the content comes back`);
    else assert.equal(written.content, undefined, `${name}: large content is not kept`);
  }
});

test('content past the size limit leaves no file', async () => {
  const path = join(dir, 'too-big');
  const written = await writeQueueFile(path, Buffer.from('x'), chunked(Buffer.alloc(10_000), 1000), envelope, 5000);
  assert.equal(written.exceeded, true);
  assert.equal(existsSync(path), false);
});
