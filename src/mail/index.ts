// Public API of Roost's MIME model (RFC 5322, RFC 2045-2047/2231, RFC 3501 FETCH items, RFC 3516, RFC 5256),
// byte-exact with Dovecot 2.3.19's message-parser / imap-envelope / imap-bodystructure / imap-msgpart.
//
// Byte strings: header values and serialised IMAP items are JS strings holding one char per byte (latin1);
// send them with Buffer.from(s, 'latin1').
//
// Structure
//   parseMessage(buf) -> ParsedMessage { root: MessagePart, envelope, size }
//   new MessageParser(); parser.write(chunk)...; parser.end() -> ParsedMessage  (streaming, any chunking)
//   MessagePart: physicalPos, headerSize/bodySize {physical, virtual, lines}, multipart, messageRfc822, text,
//                children, data (PartData: contentType, contentSubtype, params, CTE, id, description,
//                disposition, md5, language, location, envelope of an enclosed message), section
// FETCH items
//   writeEnvelope(parsed.envelope), writeBodyStructure(parsed.root), writeBody(parsed.root)   (latin1 strings)
//   RFC822.SIZE = root.headerSize.virtual + root.bodySize.virtual
// Sections
//   parseSectionSpec("1.2.HEADER.FIELDS (From To)") -> SectionSpec | null
//   fetchSection(buf, parsed, spec) -> Buffer (CRLF, NUL as 0x80, empty for missing parts)
//   sectionRange(parsed, spec), findPart(root, "1.2")
//   fetchBinary(buf, parsed, "1.2") / binarySize(...)  (throws BinaryDecodeError code UNKNOWN-CTE | PARSE)
// Headers
//   parseHeaderBlock, getHeaderValues, getFirstHeader, unfold, decodeMimeWords, parseAddressList,
//   sortAddressKey, baseSubject, parseSentDate, extractSearchText, decodeTextBody
export { MessageParser, parseMessage, type MessagePart, type MessageSize, type ParsedMessage, type MessageParserOptions } from './message-parser.js';
export type { PartData, EnvelopeData, HeaderField } from './part-data.js';
export type { MimeParam } from './rfc2231.js';
export { parseAddressList, type MessageAddress } from './address.js';
export { writeEnvelope } from './envelope.js';
export { writeBodyStructure, writeBody } from './bodystructure.js';
export { imapNString, imapNStringNoLf, imapStringForHumans } from './imap-quote.js';
export {
  parseSectionSpec,
  findPart,
  sectionRange,
  fetchSection,
  fetchBinary,
  binarySize,
  decodePartBody,
  decodeQuotedPrintable,
  decodeBase64,
  toCrlf,
  BinaryDecodeError,
  type SectionSpec,
  type SectionKind,
  type ByteRange,
} from './sections.js';
export {
  parseHeaderBlock,
  unfold,
  getHeaderValues,
  getFirstHeader,
  decodeCharset,
  decodeMimeWords,
  sortAddressKey,
  baseSubject,
  parseSentDate,
  htmlToText,
  decodeTextBody,
  extractSearchText,
  type RawHeader,
} from './header-utils.js';
