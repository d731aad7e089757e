// Replies to a pipelined group of commands (RFC 2920: MAIL, RCPT..., DATA) leave in one write instead of one each,
// for the smtp-server library, which writes every reply as it is made: the socket is corked at the first write of an
// event-loop turn and uncorked once the turn's callbacks and promise jobs are done. A 220 (greeting, or "ready to
// start TLS" right before the socket is handed to TLS) goes out at once, with whatever was held before it.
import type { Socket } from 'node:net';

export function batchRepliesPerTurn(socket: Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    if (!corked) return;
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: unknown[]) => {
    const data = args[0];
    if (typeof data === 'string' && data.startsWith('220')) {
      const ok = write(...args);
      uncork();
      return ok;
    }
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    return write(...args);
  }) as Socket['write'];
}
