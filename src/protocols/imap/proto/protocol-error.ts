// The error every IMAP argument parser throws: carries the tagged status (BAD or NO), an optional
// response code and the text the client sees. Implements RFC 9051 section 7.1 (BAD/NO) and RFC 5530 codes.
//
// Public API:
//   class ProtocolError extends Error { kind: 'BAD' | 'NO'; code?: string }
//   new ProtocolError(text: string, opts?: { kind?: 'BAD' | 'NO'; code?: string })  (kind defaults to BAD)

export class ProtocolError extends Error {
  override name = 'ProtocolError';
  readonly kind: 'BAD' | 'NO';
  readonly code: string | undefined;

  constructor(text: string, opts: { kind?: 'BAD' | 'NO'; code?: string } = {}) {
    super(text);
    this.kind = opts.kind ?? 'BAD';
    this.code = opts.code;
  }
}
