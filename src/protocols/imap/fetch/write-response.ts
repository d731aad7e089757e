// Writes one untagged FETCH response whose literals may be streams (RFC 9051 section 7.5.2), honouring the
// socket's back-pressure so that a 10 MB BODY[] never sits whole in memory.
import type { Readable } from 'node:stream';
import type { ImapSessionApi } from '../types.js';
import type { SectionData } from './body-sections.js';

/** Text pieces are protocol syntax as byte strings (latin1); SectionData pieces are literal bodies. */
export type ResponsePiece = string | SectionData;

async function writeStream(s: ImapSessionApi, stream: Readable, size: number): Promise<void> {
  let written = 0;
  for await (const chunk of stream) {
    const buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Buffer);
    written += buf.length;
    if (written > size) {
      stream.destroy();
      throw new Error(`message data longer than its announced ${size} bytes`);
    }
    s.write(buf);
    await s.drain();
  }
  if (written !== size) throw new Error(`message data gave ${written} of its announced ${size} bytes`);
}

export async function writePieces(s: ImapSessionApi, pieces: readonly ResponsePiece[]): Promise<void> {
  let text = '';
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      text += piece;
      continue;
    }
    text += `${piece.literal8 ? '~' : ''}{${piece.size}}\r\n`;
    if (Buffer.isBuffer(piece.data)) {
      // Two writes, no copy: the connection sends them together.
      s.write(Buffer.from(text, 'latin1'));
      s.write(piece.data);
      text = '';
      continue;
    }
    s.write(Buffer.from(text, 'latin1'));
    text = '';
    await writeStream(s, piece.data(), piece.size);
  }
  if (text) s.write(Buffer.from(text, 'latin1'));
  await s.drain();
}
