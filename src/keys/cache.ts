import type { VerifiedKey } from './service.js';

/** What the verification cache keeps about an active key: never the secret. */
export interface CachedKey {
  /** The answer for this key while it has not expired: built once, shared by every hit. */
  readonly answer: { readonly valid: true; readonly key: VerifiedKey };
  /** Key id, for dropping the entry when the key changes. */
  readonly id: string;
  /** Expiry in ms (the answer carries it as ISO text), or `null`. */
  readonly expiresAt: number | null;
}

interface Entry {
  readonly key: CachedKey;
  readonly storedAt: number;
}

/**
 * Digest → active key, bounded in size and age, kept current by the store's change feed: an
 * entry is dropped when its key changes, and everything when a principal changes or the feed is
 * interrupted. Oldest entries are evicted first.
 *
 * A read from the store races with invalidations arriving meanwhile, so a caller takes a
 * {@link generation} before reading and {@link set} ignores the entry if any invalidation happened
 * since: a stale "active" can never be cached after its revocation.
 */
export class KeyCache {
  readonly #byDigest = new Map<string, Entry>();
  readonly #digestById = new Map<string, string>();
  readonly #max: number;
  readonly #maxAgeMs: number;
  #generation = 0;

  constructor(options: { maxEntries?: number; maxAgeMs?: number } = {}) {
    this.#max = options.maxEntries ?? 100_000;
    this.#maxAgeMs = options.maxAgeMs ?? 300_000;
  }

  get(digest: string, now: number): CachedKey | undefined {
    const entry = this.#byDigest.get(digest);
    if (!entry) return undefined;
    if (now - entry.storedAt > this.#maxAgeMs) {
      this.#delete(digest);
      return undefined;
    }
    return entry.key;
  }

  /** Counter of invalidations; pass it back to {@link set}. */
  get generation(): number {
    return this.#generation;
  }

  set(digest: string, key: CachedKey, now: number, generation: number): void {
    if (generation !== this.#generation) return;
    if (this.#byDigest.size >= this.#max) {
      const oldest = this.#byDigest.keys().next();
      if (!oldest.done) this.#delete(oldest.value);
    }
    this.#byDigest.set(digest, { key, storedAt: now });
    this.#digestById.set(key.id, digest);
  }

  dropKey(id: string): void {
    this.#generation++;
    const digest = this.#digestById.get(id);
    if (digest !== undefined) this.#delete(digest);
  }

  clear(): void {
    this.#generation++;
    this.#byDigest.clear();
    this.#digestById.clear();
  }

  get size(): number {
    return this.#byDigest.size;
  }

  #delete(digest: string): void {
    const entry = this.#byDigest.get(digest);
    this.#byDigest.delete(digest);
    if (entry) this.#digestById.delete(entry.key.id);
  }
}
