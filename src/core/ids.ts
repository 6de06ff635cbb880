import { encodeBase62Bytes } from './base62.js';
import type { Context } from './context.js';

/** Kinds of identifier keyturn hands out; the tag makes an id's kind visible in logs. */
export type IdKind = 'key' | 'prn' | 'evt' | 'exp' | 'req' | 'ktc' | 'grt' | 'rtk' | 'atk' | 'lkf' | 'lkw' | 'nod';

/** A public identifier such as `key_4Lq…`: 128 random bits in base62. Not a secret. */
export function newId(kind: IdKind, ctx: Pick<Context, 'random'>): string {
  return `${kind}_${encodeBase62Bytes(ctx.random(16), 22)}`;
}
