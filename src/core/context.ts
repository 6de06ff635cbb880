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

/** The real clock and the operating system's CSPRNG. */
export const systemContext: Context = Object.freeze({
  now: () => new Date(),
  random: (bytes: number) => randomBytes(bytes),
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
