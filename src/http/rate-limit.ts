/**
 * A small in-memory token bucket per key (a source address): `capacity` requests at once,
 * refilled at `capacity` per `windowMs`. Per process: a cluster of N nodes admits up to N times
 * the rate, which is enough to keep a public endpoint from being used as a firehose.
 * The number of tracked keys is bounded; the least recently used is forgotten first.
 */
export class TokenBuckets {
  readonly #capacity: number;
  readonly #perMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: { capacity: number; windowMs: number; maxKeys?: number; now?: () => number }) {
    this.#capacity = options.capacity;
    this.#perMs = options.capacity / options.windowMs;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  #refill(key: string): { tokens: number; at: number } {
    const now = this.#now();
    const found = this.#buckets.get(key);
    const bucket = found ? { tokens: Math.min(this.#capacity, found.tokens + (now - found.at) * this.#perMs), at: now } : { tokens: this.#capacity, at: now };
    this.#buckets.delete(key);
    if (this.#buckets.size >= this.#maxKeys) {
      const oldest = this.#buckets.keys().next();
      if (!oldest.done) this.#buckets.delete(oldest.value);
    }
    this.#buckets.set(key, bucket);
    return bucket;
  }

  /** Takes one token for `key`: `true` when there was one. */
  take(key: string): boolean {
    const bucket = this.#refill(key);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Whether `key` has no token left (without taking one). */
  empty(key: string): boolean {
    return this.#refill(key).tokens < 1;
  }

  /** Seconds until `key` has a token again (at least 1). */
  retryAfter(key: string): number {
    const bucket = this.#refill(key);
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }
}
