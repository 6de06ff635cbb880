import { ChangeCache } from '../core/change-cache.js';
import type { VerifiedKey } from './types.js';

/**
 * Digest → positive answer, bounded in size and in age, never past the key's own expiry: the
 * core {@link ChangeCache} with the verifier's deadline rule.
 *
 * Reads from keyturn race with invalidations arriving on the change stream meanwhile, so a caller
 * takes a {@link generation} before asking and {@link set} ignores the answer if any invalidation
 * happened since: an answer given before a revocation is never cached after it.
 *
 * @example
 * ```ts
 * const cache = new AnswerCache({ ttlMs: 30_000, maxEntries: 10_000 });
 * const gen = cache.generation;
 * cache.set(digest, answer, expiresAtMs, Date.now(), gen);
 * cache.get(digest, Date.now()); // answer, until the TTL or the expiry
 * ```
 */
export class AnswerCache {
  readonly #cache: ChangeCache<VerifiedKey>;
  readonly #ttlMs: number;

  constructor(options: { ttlMs: number; maxEntries: number }) {
    this.#ttlMs = options.ttlMs;
    this.#cache = new ChangeCache({ maxEntries: options.ttlMs <= 0 ? 0 : options.maxEntries, idOf: (answer) => answer.keyId });
  }

  /** The cached answer for `digest`, if still within its deadline at `now`. */
  get(digest: string, now: number): VerifiedKey | undefined {
    return this.#cache.get(digest, now);
  }

  /** Counter of invalidations; pass the value read before asking keyturn to {@link set}. */
  get generation(): number {
    return this.#cache.generation;
  }

  /** Caches `result` unless caching is off, it is already expired, or an invalidation happened since `generation`. */
  set(digest: string, result: VerifiedKey, expiresAtMs: number | null, now: number, generation: number): void {
    const deadline = expiresAtMs === null ? now + this.#ttlMs : Math.min(now + this.#ttlMs, expiresAtMs);
    this.#cache.set(digest, result, deadline, now, generation);
  }

  /** Drops the answer for a key that changed (revoked, suspended, …). */
  dropKey(keyId: string): void {
    this.#cache.change(keyId);
  }

  /** Drops everything. */
  clear(): void {
    this.#cache.clear();
  }

  get size(): number {
    return this.#cache.size;
  }
}

/**
 * A small map of answers, each with its own deadline, bounded in size (the oldest insertion goes
 * first): the core {@link ChangeCache} keyed by what it caches. Used for introspection answers,
 * keyed by the token's digest; a {@link clear} drops everything, and an answer whose request
 * started before it is not kept.
 *
 * @example
 * ```ts
 * const cache = new DeadlineCache<VerifiedAccessToken>(10_000);
 * cache.set(digest, answer, Math.min(now + 30_000, expMs), now);
 * cache.get(digest, now); // answer, until its deadline
 * ```
 */
export class DeadlineCache<V> {
  readonly #cache: ChangeCache<V>;

  constructor(maxEntries: number) {
    this.#cache = new ChangeCache({ maxEntries });
  }

  get(key: string, now: number): V | undefined {
    return this.#cache.get(key, now);
  }

  /** Counter of clears; pass the value read before asking to {@link set} to guard against a clear meanwhile. */
  get generation(): number {
    return this.#cache.generation;
  }

  /** Keeps `value` until `deadline` (epoch ms); nothing when the deadline has passed, the cache holds nothing, or it was cleared since `generation`. */
  set(key: string, value: V, deadline: number, now: number, generation: number = this.#cache.generation): void {
    this.#cache.set(key, value, deadline, now, generation);
  }

  clear(): void {
    this.#cache.clear();
  }

  get size(): number {
    return this.#cache.size;
  }
}
