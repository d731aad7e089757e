// The byte stream from Roost to its file delivery agent: length-prefixed frames ended by an empty frame, so that the
// agent tells a whole message from one cut off by a failed read or a crash of Roost (end of input without the last frame).

/** Frames the chunks: 4-byte big-endian length and bytes per chunk, then an empty frame. */
export async function* frame(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    const head = Buffer.alloc(4);
    head.writeUInt32BE(chunk.length);
    yield Buffer.concat([head, chunk]);
  }
  yield Buffer.alloc(4);
}

/** The chunks back from framed input; throws when the input ends before the empty frame. */
export async function* unframe(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const data of input) {
    pending = pending.length ? Buffer.concat([pending, data]) : data;
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0);
      if (length === 0) return;
      if (pending.length < 4 + length) break;
      yield pending.subarray(4, 4 + length);
      pending = pending.subarray(4 + length);
    }
  }
  throw new Error('the message was cut off before its end');
}
