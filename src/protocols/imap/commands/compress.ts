// COMPRESS (RFC 4978 section 3): after the tagged OK both directions run through raw DEFLATE; a second
// COMPRESS is refused with NO [COMPRESSIONACTIVE] (RFC 4978 section 4), an unknown mechanism with BAD.
import { ArgCursor } from '../proto/arg-cursor.js';
import { alreadyAnswered, bad, no, type ImapCommandSpec } from '../types.js';
import { COMPRESS_MECHANISMS } from '../compress/mechanisms.js';

export const compressCommand: ImapCommandSpec = {
  name: 'COMPRESS',
  states: ['authenticated', 'selected'],
  capabilities: (s) => (s.state === 'not-authenticated' || s.conn.compressed ? [] : COMPRESS_MECHANISMS.map((m) => `COMPRESS=${m}`)),
  run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const mechanism = args.keyword('compression mechanism');
    args.end();
    if (s.conn.compressed) return no('Compression already enabled.', 'COMPRESSIONACTIVE');
    if (!COMPRESS_MECHANISMS.includes(mechanism)) return bad(`Unknown compression mechanism: ${mechanism}`);
    // The OK goes out uncompressed; everything after it, both ways, is DEFLATE.
    s.write(`${cmd.tag} OK DEFLATE active\r\n`);
    s.startCompression();
    return alreadyAnswered;
  },
};
