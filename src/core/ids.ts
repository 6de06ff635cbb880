import { BASE62_ALPHABET } from './base62.js';
import type { Context } from './context.js';
import { KeyturnError } from './errors.js';

/** Kinds of identifier keyturn hands out; the tag makes an id's kind visible in logs. */
export type IdKind = 'key' | 'prn' | 'evt' | 'exp' | 'req' | 'ktc' | 'grt' | 'rtk' | 'atk' | 'lkf' | 'lkw' | 'nod' | 'obx' | 'whe' | 'obd';

/** Base62 of a non-negative integer below 2^53, left-padded to `width`. */
function base62(value: number, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = BASE62_ALPHABET[value % 62]! + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/**
 * A public identifier such as `key_0UZ7aXk2…` (not a secret): 8 base62 characters of the
 * creation time in milliseconds, then 14 of randomness (82 bits). Ids sort by creation time
 * (the alphabet `0-9A-Za-z` is in ASCII order), so lists page in creation order and database
 * indexes grow at their right edge instead of splitting pages at random.
 */
export function newId(kind: IdKind, ctx: Pick<Context, 'random' | 'now'>): string {
  const bytes = ctx.random(11);
  // Two 41-bit random integers (62^7 > 2^41), 7 base62 characters each.
  let hi = bytes[10]! & 1;
  let lo = (bytes[10]! >> 1) & 1;
  for (let i = 0; i < 5; i++) hi = hi * 256 + bytes[i]!;
  for (let i = 5; i < 10; i++) lo = lo * 256 + bytes[i]!;
  return `${kind}_${base62(ctx.now().getTime(), 8)}${base62(hi, 7)}${base62(lo, 7)}`;
}

/**
 * Whether `text` has the shape of an id of `kind` (`key_` and 22 base62 characters). Used for
 * cursors and references a caller supplies: a malformed one is an error, never a silent match.
 *
 * @example
 * ```ts
 * isIdOf('key', 'key_0UZ7aXk2Qm3nT8pLr5vWxY'); // true
 * isIdOf('key', 'bogus'); // false
 * ```
 */
export function isIdOf(kind: IdKind, text: string): boolean {
  return text.length === kind.length + 23 && text.startsWith(`${kind}_`) && /^[0-9A-Za-z]{22}$/.test(text.slice(kind.length + 1));
}

/** A page cursor: `undefined` or an id of `kind`, else `ERR_VALIDATION` naming the field. */
export function checkCursor(kind: IdKind, after: string | undefined): string {
  if (after === undefined || after === '') return '';
  if (!isIdOf(kind, after)) throw new KeyturnError('ERR_VALIDATION', `after: not a ${kind}_ id (${kind}_ and 22 letters and digits)`);
  return after;
}
