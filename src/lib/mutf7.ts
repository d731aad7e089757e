// Modified UTF-7 for IMAP mailbox names: encode, strict decode, validation.
// Implements RFC 3501 section 5.1.3 (kept in RFC 9051 section 5.1 for pre-UTF8=ACCEPT clients).
//
// Public API:
//   encodeMutf7(name: string): string        UTF-16 string -> modified UTF-7 (always canonical)
//   decodeMutf7(text: string): string        modified UTF-7 -> string; throws Mutf7Error on bad or
//                                            non-canonical input (e.g. "&AGE-", "&", "&Jjo!")
//   isValidMutf7(text: string): boolean
//   class Mutf7Error extends Error

export class Mutf7Error extends Error {
  override name = 'Mutf7Error';
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64_ALPHABET.length; i++) BASE64_VALUE[BASE64_ALPHABET.charCodeAt(i)] = i;

/** Printable US-ASCII (0x20-0x7e) stands for itself; everything else is base64-encoded UTF-16BE. */
function isDirect(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

function encodeShifted(units: number[]): string {
  let out = '&';
  let bits = 0;
  let acc = 0;
  for (const unit of units) {
    acc = (acc << 16) | unit;
    bits += 16;
    while (bits >= 6) {
      bits -= 6;
      out += BASE64_ALPHABET[(acc >>> bits) & 0x3f];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE64_ALPHABET[(acc << (6 - bits)) & 0x3f];
  return out + '-';
}

export function encodeMutf7(name: string): string {
  let out = '';
  let pending: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (isDirect(code)) {
      if (pending.length > 0) {
        out += encodeShifted(pending);
        pending = [];
      }
      out += code === 0x26 ? '&-' : name[i];
    } else {
      pending.push(code);
    }
  }
  if (pending.length > 0) out += encodeShifted(pending);
  return out;
}

function decodeLoose(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (!isDirect(code)) throw new Mutf7Error('Character outside printable US-ASCII in modified UTF-7');
    if (code !== 0x26) {
      out += text[i];
      i++;
      continue;
    }
    const close = text.indexOf('-', i + 1);
    if (close < 0) throw new Mutf7Error('Unterminated "&" shift sequence');
    if (close === i + 1) {
      out += '&';
      i += 2;
      continue;
    }
    let acc = 0;
    let bits = 0;
    const units: number[] = [];
    for (let j = i + 1; j < close; j++) {
      const c = text.charCodeAt(j);
      const v = c < 128 ? BASE64_VALUE[c]! : -1;
      if (v < 0) throw new Mutf7Error('Invalid base64 character in shift sequence');
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 16) {
        bits -= 16;
        units.push((acc >>> bits) & 0xffff);
        acc &= (1 << bits) - 1;
      }
    }
    if (bits >= 6 || acc !== 0) throw new Mutf7Error('Shift sequence has leftover bits');
    for (let k = 0; k < units.length; k++) {
      const u = units[k]!;
      if (u >= 0xd800 && u <= 0xdbff) {
        const low = units[k + 1];
        if (low === undefined || low < 0xdc00 || low > 0xdfff) throw new Mutf7Error('Unpaired UTF-16 surrogate');
        k++;
      } else if (u >= 0xdc00 && u <= 0xdfff) {
        throw new Mutf7Error('Unpaired UTF-16 surrogate');
      }
    }
    out += String.fromCharCode(...units);
    i = close + 1;
  }
  return out;
}

export function decodeMutf7(text: string): string {
  const decoded = decodeLoose(text);
  if (encodeMutf7(decoded) !== text) throw new Mutf7Error('Non-canonical modified UTF-7');
  return decoded;
}

export function isValidMutf7(text: string): boolean {
  try {
    decodeMutf7(text);
    return true;
  } catch {
    return false;
  }
}
