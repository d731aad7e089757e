// The compression mechanisms COMPRESS accepts (RFC 4978 section 3): DEFLATE (RFC 1951, raw, no zlib header),
// which the connection runs with node:zlib.
export const COMPRESS_MECHANISMS: readonly string[] = ['DEFLATE'];
