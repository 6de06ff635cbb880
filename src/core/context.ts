import { randomBytes } from 'node:crypto';

/**
 * What domain code needs from the outside world: the time and randomness. Passed in,
 * never read from globals, so expiry and rotation windows are tested exactly.
 *
 * @example
 * ```ts
 * const ctx = fixedContext(new Date('2026-01-01T00:00:00Z'));
 * ctx.advance(30_000);
 * ```
 */
export interface Context {
  now(): Date;
  random(bytes: number): Uint8Array;
}

const POOL_SIZE = 8192;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * CSPRNG bytes from a pool refilled 8 KiB at a time: one system call per ~250 ids or secrets
 * instead of one each. The caller gets its own copy; the pool's used bytes are zeroed.
 */
function pooledRandom(bytes: number): Uint8Array {
  if (bytes > 256) return randomBytes(bytes);
  if (offset + bytes > pool.length) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + bytes));
  pool.fill(0, offset, offset + bytes);
  offset += bytes;
  return out;
}

/** The real clock and the operating system's CSPRNG. */
export const systemContext: Context = Object.freeze({
  now: () => new Date(),
  random: pooledRandom,
});

/** A context whose clock only moves when told; randomness stays cryptographic. */
export interface ManualContext extends Context {
  advance(ms: number): void;
  set(time: Date): void;
}

export function manualContext(start: Date = new Date('2026-01-01T00:00:00.000Z')): ManualContext {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    random: (bytes: number) => randomBytes(bytes),
    advance(ms: number) {
      current += ms;
    },
    set(time: Date) {
      current = time.getTime();
    },
  };
}
