// The queue manager's control socket (run/qmgr), as Postfix's qmgr fifo: `roost queue flush` and
// `roost sendmail` wake it; `advance-clock` moves the queue clock when [smtp] test_clock is on. One line each way.
import net from 'node:net';
import { existsSync, lstatSync, unlinkSync, chmodSync } from 'node:fs';
import { getLogger } from '../lib/logger.js';

const log = getLogger({ component: 'qmgr' });

export interface ControlHandlers {
  flush(): Promise<void>;
  wakeup(): void;
  advanceClock?(ms: number): Promise<void>;
}

export function serveControl(path: string, handlers: ControlHandlers): net.Server {
  if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      if (buffer.length > 1024) return void socket.destroy();
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      const [command, arg] = buffer.slice(0, nl).trim().split(/\s+/);
      buffer = '';
      const answer = (text: string) => socket.end(text + '\n');
      (async () => {
        if (command === 'flush') {
          await handlers.flush();
          return answer('ok');
        }
        if (command === 'wakeup') {
          handlers.wakeup();
          return answer('ok');
        }
        if (command === 'advance-clock') {
          if (!handlers.advanceClock) return answer('error: [smtp] test_clock is off');
          const ms = Number(arg);
          if (!Number.isFinite(ms) || ms < 0) return answer('error: expected milliseconds');
          await handlers.advanceClock(ms);
          return answer('ok');
        }
        answer('error: unknown command');
      })().catch((err) => answer(`error: ${(err as Error).message}`));
    });
  });
  server.on('error', (err) => log.error({ err: err.message }, 'control socket error'));
  server.listen(path, () => chmodSync(path, 0o600));
  server.unref();
  return server;
}

/** Sends one command to a running daemon; resolves to its answer, or undefined when no daemon listens. */
export function sendControl(path: string, command: string, timeoutMs = 120_000): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) return resolve(undefined);
    const socket = net.connect({ path });
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from the queue manager within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(command + '\n'));
    socket.on('data', (d) => (answer += d.toString('utf8')));
    socket.on('end', () => {
      clearTimeout(timer);
      resolve(answer.trim());
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(undefined);
      else reject(err);
    });
  });
}
