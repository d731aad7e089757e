// IMAP over WebSocket (subprotocol "imap") on the real server with the ws client: log in, select,
// fetch, and IDLE seeing a delivery made through LMTP meanwhile.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { lmtpDeliver } from '../helpers/python.js';

let h: RoostHandle;
before(async () => {
  h = await startRoost({ users: [{ name: 'alice', password: 'wonderland' }] });
});
after(async () => {
  await h?.stop();
});

/** A WebSocket IMAP client that collects response lines from the messages it receives. */
class WsImap {
  private buffer = '';
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.buffer += data.toString('utf8');
      let i: number;
      while ((i = this.buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 2);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static open(url: string): Promise<WsImap> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, 'imap');
      ws.once('open', () => resolve(new WsImap(ws)));
      ws.once('error', reject);
    });
  }
  async until(pred: (l: string) => boolean, timeoutMs = 20_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex(pred);
      if (i >= 0) return this.lines.splice(0, i + 1);
      if (Date.now() > deadline) throw new Error(`timed out; have ${JSON.stringify(this.lines)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
  send(line: string): void {
    this.ws.send(line + '\r\n');
  }
}

test('a WebSocket client logs in, selects, fetches and idles', async () => {
  await lmtpDeliver(h.ports.lmtp, 'a@example.net', ['alice@localhost'], 'Subject: one\r\n\r\nfirst\r\n');
  const c = await WsImap.open(`ws://127.0.0.1:${h.ports['imap-websocket']}/imap`);
  assert.equal(c.ws.protocol, 'imap', 'the imap subprotocol is selected');
  const greeting = await c.until((l) => l.startsWith('* OK'));
  assert.ok(!greeting[0].includes('STARTTLS'), 'no STARTTLS over WebSocket');
  c.send('a LOGIN alice wonderland');
  await c.until((l) => l.startsWith('a OK'));
  c.send('b SELECT INBOX');
  const sel = await c.until((l) => l.startsWith('b '));
  assert.ok(sel.includes('* 1 EXISTS'));
  assert.match(sel.at(-1)!, /^b OK \[READ-WRITE\]/);
  c.send('c FETCH 1 (FLAGS RFC822.SIZE)');
  const fetched = await c.until((l) => l.startsWith('c '));
  assert.match(fetched[0], /^\* 1 FETCH \(FLAGS \(.*\) RFC822\.SIZE \d+\)$/);
  assert.equal(fetched.at(-1), 'c OK Fetch completed.');
  c.send('d IDLE');
  await c.until((l) => l.startsWith('+ '));
  await lmtpDeliver(h.ports.lmtp, 'a@example.net', ['alice@localhost'], 'Subject: two\r\n\r\nsecond\r\n');
  await c.until((l) => l === '* 2 EXISTS');
  c.send('DONE');
  await c.until((l) => l.startsWith('d OK'));
  c.send('e LOGOUT');
  await c.until((l) => l.startsWith('e OK'));
  c.ws.close();
});

test('a plain HTTP request to the endpoint gets 426, another path 404', async () => {
  const res = await fetch(`http://127.0.0.1:${h.ports['imap-websocket']}/imap`);
  assert.equal(res.status, 426);
  await assert.rejects(WsImap.open(`ws://127.0.0.1:${h.ports['imap-websocket']}/other`));
});
