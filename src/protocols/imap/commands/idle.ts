// IDLE (RFC 2177, RFC 9051 section 6.3.13): "+ idling", then untagged updates as other sessions and
// deliveries change the mailbox, until the client sends DONE.
import { ArgCursor } from '../proto/arg-cursor.js';
import { bad, ok, type ImapCommandSpec } from '../types.js';

export const idleCommand: ImapCommandSpec = {
  name: 'IDLE',
  states: ['authenticated', 'selected'],
  capabilities: () => ['IDLE'],
  async run(s, cmd) {
    new ArgCursor(cmd.args).end();
    s.write('+ idling\r\n');
    s.idling = true;
    const box = s.selected;
    let announcing = Promise.resolve();
    const announce = () => {
      announcing = announcing.then(async () => {
        if (s.selected === box && box) await box.announceChanges(s, { expunges: true });
      }).catch((err) => s.log.warn({ err: (err as Error).message }, 'IDLE update failed'));
    };
    box?.watch(announce);
    // Changes that happened between the last command and IDLE are reported at once.
    announce();
    const keepalive = setInterval(() => s.untagged('OK Still here'), s.ctx.config.imap.imap_idle_notify_interval);
    keepalive.unref();
    try {
      const line = await s.readLine();
      if (line === null) return ok('Connection closed.');
      if (line.trim().toUpperCase() !== 'DONE') return bad('Expected DONE.');
      return ok('Idle completed.');
    } finally {
      s.idling = false;
      clearInterval(keepalive);
      box?.unwatch();
      await announcing;
    }
  },
};
