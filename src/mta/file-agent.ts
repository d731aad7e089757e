// The file delivery agent as a process of its own, so that a "/file" alias target is written with the rights of
// default_privs when Roost is root (Postfix local(8) DELIVERY RIGHTS): request in argv, framed bytes on stdin, result on fd 3.
import { readFileSync, writeSync } from 'node:fs';
import { deliverToFile, type FileRequest, type FileResult } from './file-delivery.js';
import { unframe } from './agent-frames.js';

/** Whether the parent that started this agent is gone (process.ppid is read once at start, so it asks the kernel). */
function orphaned(parent: number): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== parent;
  } catch {
    try {
      process.kill(parent, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
}

async function main(): Promise<void> {
  let result: FileResult;
  try {
    const req = JSON.parse(process.argv[2] ?? '') as FileRequest;
    // Input that ends without its final frame (Roost could not read the message, or died) fails the delivery,
    // and the file is cut back: nothing is written from a message that did not arrive whole.
    // An agent whose Roost died (it was handed to another parent) writes nothing: the restarted Roost delivers.
    const parent = Number(process.argv[3]); // Roost's pid, as it may be gone before this line runs
    result = await deliverToFile(req, unframe(process.stdin as AsyncIterable<Buffer>), () => orphaned(parent));
  } catch (err) {
    result = { ok: false, dsn: '4.3.0', text: `file delivery agent failed: ${(err as Error).message}` };
  }
  writeSync(3, JSON.stringify(result));
  process.exit(0);
}

await main();
