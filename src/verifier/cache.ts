import type { VerifiedKey } from './types.js';

interface Entry {
  readonly result: VerifiedKey;
  /** Epoch ms after which the entry is never served: min(stored + TTL, key expiry). */
  readonly deadline: number;
}

/**
 * Digest → positive answer, bounded in size and in age, never past the key's own expiry.
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
  readonly #byDigest = new Map<string, Entry>();
  readonly #digestByKeyId = new Map<string, string>();
  readonly #ttlMs: number;
  readonly #max: number;
  #generation = 0;

  constructor(options: { ttlMs: number; maxEntries: number }) {
    this.#ttlMs = options.ttlMs;
    this.#max = options.maxEntries;
  }

  /** The cached answer for `digest`, if still within its deadline at `now`. */
  get(digest: string, now: number): VerifiedKey | undefined {
    const entry = this.#byDigest.get(digest);
    if (entry === undefined) return undefined;
    if (now >= entry.deadline) {
      this.#delete(digest, entry);
      return undefined;
    }
    return entry.result;
  }

  /** Counter of invalidations; pass the value read before asking keyturn to {@link set}. */
  get generation(): number {
    return this.#generation;
  }

  /** Caches `result` unless caching is off, it is already expired, or an invalidation happened since `generation`. */
  set(digest: string, result: VerifiedKey, expiresAtMs: number | null, now: number, generation: number): void {
    if (generation !== this.#generation || this.#ttlMs <= 0 || this.#max <= 0) return;
    const deadline = expiresAtMs === null ? now + this.#ttlMs : Math.min(now + this.#ttlMs, expiresAtMs);
    if (deadline <= now) return;
    const previous = this.#byDigest.get(digest);
    if (previous !== undefined) this.#delete(digest, previous);
    while (this.#byDigest.size >= this.#max) {
      const oldest = this.#byDigest.entries().next();
      if (oldest.done) break;
      this.#delete(oldest.value[0], oldest.value[1]);
    }
    this.#byDigest.set(digest, { result, deadline });
    this.#digestByKeyId.set(result.keyId, digest);
  }

  /** Drops the answer for a key that changed (revoked, suspended, …). */
  dropKey(keyId: string): void {
    this.#generation++;
    const digest = this.#digestByKeyId.get(keyId);
    if (digest === undefined) return;
    const entry = this.#byDigest.get(digest);
    if (entry !== undefined) this.#delete(digest, entry);
    else this.#digestByKeyId.delete(keyId);
  }

  /** Drops everything. */
  clear(): void {
    this.#generation++;
    this.#byDigest.clear();
    this.#digestByKeyId.clear();
  }

  get size(): number {
    return this.#byDigest.size;
  }

  #delete(digest: string, entry: Entry): void {
    this.#byDigest.delete(digest);
    if (this.#digestByKeyId.get(entry.result.keyId) === digest) this.#digestByKeyId.delete(entry.result.keyId);
  }
}

/**
 * A small map of answers, each with its own deadline, bounded in size (the oldest insertion goes
 * first). Used for introspection answers, keyed by the token's digest.
 *
 * @example
 * ```ts
 * const cache = new DeadlineCache<VerifiedAccessToken>(10_000);
 * cache.set(digest, answer, Math.min(now + 30_000, expMs), now);
 * cache.get(digest, now); // answer, until its deadline
 * ```
 */
export class DeadlineCache<V> {
  readonly #entries = new Map<string, { readonly value: V; readonly deadline: number }>();
  readonly #max: number;

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.deadline) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Keeps `value` until `deadline` (epoch ms); nothing when the deadline has passed or the cache holds nothing. */
  set(key: string, value: V, deadline: number, now: number): void {
    if (deadline <= now || this.#max <= 0) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, deadline });
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
