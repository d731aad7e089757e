// Body of one crypt worker thread: computes SHA-crypt ($5$/$6$) and MD5-crypt ($1$/$apr1$) jobs
// posted by crypt-worker.ts's pool and answers each with the crypt string's bytes.
import { parentPort } from 'node:worker_threads';
import { md5Crypt } from './md5-crypt-algorithm.js';
import { shaCrypt } from './sha-crypt-algorithm.js';

export interface CryptRequest {
  id: number;
  op: 'sha-crypt' | 'md5-crypt';
  password: string;
  setting: string;
}

export type CryptReply = { id: number; result: Uint8Array } | { id: number; error: string };

const port = parentPort;
if (port) {
  port.on('message', ({ id, op, password, setting }: CryptRequest) => {
    let reply: CryptReply;
    try {
      const crypt = op === 'md5-crypt' ? md5Crypt : shaCrypt;
      reply = { id, result: crypt(Buffer.from(password, 'utf8'), Buffer.from(setting, 'utf8')) };
    } catch (err) {
      reply = { id, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
}
