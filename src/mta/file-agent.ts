// The file delivery agent as a process of its own, so that a "/file" alias target is written with the rights of
// default_privs when Roost runs as root (Postfix local(8) DELIVERY RIGHTS): request in argv, bytes on stdin, result on fd 3.
import { writeSync } from 'node:fs';
import { deliverToFile, type FileRequest, type FileResult } from './file-delivery.js';

/** SIGTERM from Roost means its copy of the message broke off: the input fails, so the file is cut back. */
const aborted = new Promise<never>((_resolve, reject) => process.once('SIGTERM', () => reject(new Error('delivery aborted: the message could not be read'))));
aborted.catch(() => undefined);

async function* input(): AsyncGenerator<Buffer> {
  const it = (process.stdin as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  for (;;) {
    const next = await Promise.race([it.next(), aborted]);
    if (next.done) return;
    yield next.value;
  }
}

async function main(): Promise<void> {
  let result: FileResult;
  try {
    const req = JSON.parse(process.argv[2] ?? '') as FileRequest;
    result = await deliverToFile(req, input());
  } catch (err) {
    result = { ok: false, dsn: '4.3.0', text: `file delivery agent failed: ${(err as Error).message}` };
  }
  writeSync(3, JSON.stringify(result));
  process.exit(0);
}

await main();
