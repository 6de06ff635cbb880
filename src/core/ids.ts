import { BASE62_ALPHABET } from './base62.js';
import type { Context } from './context.js';

/** Kinds of identifier keyturn hands out; the tag makes an id's kind visible in logs. */
export type IdKind = 'key' | 'prn' | 'evt' | 'exp' | 'req' | 'ktc' | 'grt' | 'rtk' | 'atk' | 'lkf' | 'lkw' | 'nod' | 'obx';

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
