// FETCH literals streamed from a Maildir message read in pooled chunks (src/protocols/imap/fetch/write-response.ts with
// src/storage/common/frame-pool.ts): a chunk returns to the pool only once the connection says it has left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { StorageOptions } from '../../../src/storage/api.js';
import { ResponseBatch } from '../../../src/protocols/imap/fetch/write-response.js';
import type { ImapSessionApi } from '../../../src/protocols/imap/types.js';
import { crlf, withStorage } from '../../contract/storage-helpers.js';

/** A message of about `kib` KiB whose every line names the message, so bytes of one cannot pass for another's. */
function largeMessage(name: string, kib: number): string {
  const lines = [`Subject: ${name}`, ''];
  for (let i = 0, length = 0; length < kib * 1024; i++) {
    const line = `${name} line ${i} ${'y'.repeat(i % 61)}`;
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join('\n');
}

/** A connection that keeps what is written, and runs the write callbacks only when told (a slow network). */
function heldConnection() {
  const written: { buf: Buffer; onWritten?: () => void }[] = [];
  const api = {
    write(data: string | Buffer, onWritten?: () => void) {
      written.push({ buf: typeof data === 'string' ? Buffer.from(data, 'latin1') : data, onWritten });
    },
    drain: () => Promise.resolve(),
  } as unknown as ImapSessionApi;
  return {
    api,
    bytes: () => Buffer.concat(written.map((w) => w.buf)),
    /** the memory of the message chunks written (batches of protocol text are smaller) */
    memories: () => new Set(written.map((w) => w.buf.buffer).filter((m) => m.byteLength >= 256 * 1024)),
    leave: () => written.splice(0).forEach((w) => w.onWritten?.()),
  };
}

test('streamed chunks are reused only after their write completed: bytes a slow connection still holds stay intact', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-fetch-pool-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const opts: StorageOptions = { dataDir: join(dir, 'data'), defaultMailLocation: `maildir:${join(dir, 'mail')}`, fsync: false };
  const texts = [largeMessage('first', 900), largeMessage('second', 900)];
  await withStorage({ user: 'alice' }, opts, async (st) => {
    for (const text of texts) await st.save('INBOX', Buffer.from(text));
    const box = await st.openMailbox('INBOX');
    try {
      const fetchBody = async (conn: ReturnType<typeof heldConnection>, uid: number) => {
        const content = await box.openMessage(uid);
        const batch = new ResponseBatch(conn.api);
        await batch.add([`* ${uid} FETCH (BODY[] `, { size: content.size, literal8: false, data: () => content.stream() as Readable }, ')\r\n']);
        await batch.flush();
      };
      const expected = (uid: number) => Buffer.from(`* ${uid} FETCH (BODY[] {${crlf(texts[uid - 1]!).length}}\r\n${crlf(texts[uid - 1]!)})\r\n`);

      // Both messages written while nothing has left yet: the second must not be read into the first's chunks.
      const slow = heldConnection();
      await fetchBody(slow, 1);
      await fetchBody(slow, 2);
      assert.ok(slow.bytes().equals(Buffer.concat([expected(1), expected(2)])), 'bytes still held are the messages sent');
      const firstMemories = slow.memories();
      slow.leave();

      // Once they have left, the next FETCH reads into the same memory, and sends the right bytes from it.
      const next = heldConnection();
      await fetchBody(next, 1);
      assert.ok(next.bytes().equals(expected(1)));
      assert.ok([...next.memories()].some((m) => firstMemories.has(m)), 'chunks given back are read into again');
    } finally {
      await box.close();
    }
  });
});
