// Wire helpers for Dovecot's auth protocols: TAB-separated lines, \001 escaping of TAB/LF/CR/\001
// (Dovecot's str_tabescape), and a line reader with a length limit that never buffers past it.
import type { Socket } from 'node:net';

/** Dovecot str_tabescape: \001 -> \0011, TAB -> \001t, CR -> \001r, LF -> \001n. */
export function tabEscape(value: string): string {
  return value.replace(/[\x01\t\r\n]/g, (c) => (c === '\x01' ? '\x011' : c === '\t' ? '\x01t' : c === '\r' ? '\x01r' : '\x01n'));
}

export function tabUnescape(value: string): string {
  return value.replace(/\x01([1trn])/g, (_m, c: string) => (c === '1' ? '\x01' : c === 't' ? '\t' : c === 'r' ? '\r' : '\n'));
}

/** Strict base64 (Dovecot rejects garbage); undefined when invalid. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/**
 * Calls onLine for each complete line (without LF, CR stripped); when a line grows past maxLength
 * before its LF arrives, calls onOverflow once and stops reading.
 */
export function readLines(socket: Socket, maxLength: number, onLine: (line: string) => void, onOverflow: () => void): void {
  let buffered = '';
  let stopped = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    if (stopped) return;
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).replace(/\r$/, '');
      buffered = buffered.slice(nl + 1);
      if (line.length > maxLength) {
        stopped = true;
        onOverflow();
        return;
      }
      onLine(line);
      if (stopped || socket.destroyed) return;
    }
    if (buffered.length > maxLength) {
      stopped = true;
      buffered = '';
      onOverflow();
    }
  });
}

/** Writes a line unless the peer is gone. */
export function writeLine(socket: Socket, fields: string[]): void {
  if (socket.destroyed || !socket.writable) return;
  socket.write(fields.join('\t') + '\n');
}
