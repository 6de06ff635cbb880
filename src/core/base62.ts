/** The base62 alphabet keyturn secrets use: digits, then upper case, then lower case. */
export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const DIGIT_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE62_ALPHABET.length; i++) DIGIT_VALUE[BASE62_ALPHABET.charCodeAt(i)] = i;

/** Base62 of a non-negative integer, most significant digit first, left-padded with `0` to `width`. */
export function encodeBase62(value: bigint | number, width: number): string {
  let out = '';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('base62: not a non-negative safe integer');
    while (value > 0) {
      out = BASE62_ALPHABET[value % 62] + out;
      value = Math.floor(value / 62);
    }
  } else {
    if (value < 0n) throw new RangeError('base62: negative');
    while (value > 0n) {
      out = BASE62_ALPHABET[Number(value % 62n)] + out;
      value /= 62n;
    }
  }
  if (out.length > width) throw new RangeError(`base62: value needs ${out.length} digits, more than ${width}`);
  return out.padStart(width, '0');
}

/** Base62 of bytes read as one big-endian unsigned integer. */
export function encodeBase62Bytes(bytes: Uint8Array, width: number): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return encodeBase62(value, width);
}

/** True when every character of `text` is in the base62 alphabet. */
export function isBase62(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || DIGIT_VALUE[c] === -1) return false;
  }
  return true;
}
