// Splits a byte stream into lines for line-based protocols (POP3, SASL exchanges): CRLF or bare LF
// ends a line; a line over the limit is reported once and skipped up to its end, never buffered whole.
export type LineEvent = { kind: 'line'; line: Buffer } | { kind: 'overflow'; bytesSeen: number };

export class LineReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;
  private discarded = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** Feeds a chunk; returns the complete lines (without line end) and overflow notices in order. */
  push(chunk: Buffer): LineEvent[] {
    const out: LineEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) {
        const rest = chunk.subarray(start);
        if (this.discarding) this.discarded += rest.length;
        else if (this.pendingBytes + rest.length > this.maxLineBytes) {
          this.discarding = true;
          this.discarded = this.pendingBytes + rest.length;
          this.pending = [];
          this.pendingBytes = 0;
        } else {
          this.pending.push(rest);
          this.pendingBytes += rest.length;
        }
        break;
      }
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.discarding) {
        out.push({ kind: 'overflow', bytesSeen: this.discarded + piece.length });
        this.discarding = false;
        this.discarded = 0;
        continue;
      }
      let line = this.pending.length ? Buffer.concat([...this.pending, piece]) : piece;
      this.pending = [];
      this.pendingBytes = 0;
      if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
      if (line.length > this.maxLineBytes) out.push({ kind: 'overflow', bytesSeen: line.length });
      else out.push({ kind: 'line', line });
    }
    return out;
  }

  /** Bytes of an unfinished line currently held (for "far over the limit" decisions). */
  get bufferedBytes(): number {
    return this.discarding ? this.discarded : this.pendingBytes;
  }

  /** Drops anything buffered (e.g. data pipelined before a TLS upgrade, which must not be trusted). */
  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.discarding = false;
    this.discarded = 0;
  }
}
