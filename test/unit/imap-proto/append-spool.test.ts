// The APPEND spool's back-pressure: the socket is paused while the spool file lags behind the client, and it is
// always read again once the literal has ended (a stream that is ending never emits 'drain').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpooledLiteral } from '../../../src/protocols/imap/commands/append-spool.js';
import type { ImapSessionApi } from '../../../src/protocols/imap/types.js';

function sessionWithSocketState(dataDir: string): { s: ImapSessionApi; socket: { paused: boolean } } {
  const socket = { paused: false };
  const conn = { pause: () => (socket.paused = true), resume: () => (socket.paused = false) };
  return { s: { conn, ctx: { dataDir } } as unknown as ImapSessionApi, socket };
}

test('a literal whose last chunk fills the spool buffer leaves the socket reading once it ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'roost-spool-'));
  try {
    const { s, socket } = sessionWithSocketState(dir);
    const spool = SpooledLiteral.create(s);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    spool.write(chunk);
    assert.equal(socket.paused, true, 'a chunk beyond the write buffer pauses the socket');
    spool.end();
    assert.equal(socket.paused, false, 'the socket reads the rest of the command line');
    await spool.complete();
    assert.equal(readFileSync(spool.path).length, chunk.length);
    await spool.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
