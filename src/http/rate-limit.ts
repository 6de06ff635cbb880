import { sourceNetwork } from '../core/network.js';
import { KeyturnError } from '../core/errors.js';

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

/** Which failed authentications share a limit: key verification, OAuth client authentication, the admin API. */
export type FailureKind = 'verify' | 'client' | 'admin';

/** Failed authentications accepted per minute per source network, per {@link FailureKind}. */
export type FailureRates = Readonly<Record<FailureKind, number>>;

/**
 * Limits on failed authentications per source network (an IPv4 address, an IPv6 /64:
 * {@link sourceNetwork}). Only failures are counted, after they happened: a request that
 * authenticates is never limited, slowed or counted, whatever its source did before.
 *
 * @example
 * ```ts
 * const limits = new FailureLimits({ verify: 600, client: 60, admin: 30 });
 * const wait = limits.fail('client', request.ip);
 * if (wait !== undefined) throw rateLimited(wait); // 429 with Retry-After
 * ```
 */
export class FailureLimits {
  readonly #buckets: Readonly<Record<FailureKind, TokenBuckets>>;
  /** How long a 429 answer is held before it is sent (ms). */
  readonly delayMs: number;

  constructor(rates: FailureRates, now: () => number = Date.now, delayMs = 0) {
    this.delayMs = delayMs;
    const bucket = (capacity: number) => new TokenBuckets({ capacity, windowMs: 60_000, maxKeys: 100_000, now });
    this.#buckets = { verify: bucket(rates.verify), client: bucket(rates.client), admin: bucket(rates.admin) };
  }

  /** Counts one failed authentication from `address`: `undefined` within the limit, else the seconds to wait. */
  fail(kind: FailureKind, address: string | null | undefined): number | undefined {
    const network = sourceNetwork(address);
    const buckets = this.#buckets[kind];
    return buckets.take(network) ? undefined : buckets.retryAfter(network);
  }
}

/** The 429 answer to a failed authentication past its limit; `retryAfter` (seconds) becomes `Retry-After`. */
export function rateLimited(retryAfter: number): KeyturnError {
  return new KeyturnError('ERR_RATE_LIMITED', 'too many failed authentications from this network; retry later', { details: { retryAfter } });
}

/**
 * `value` after the limiter's delay: a client past its limit waits for its 429, so a flood of
 * failures (each connection sending its next request when the answer arrives) slows to a trickle
 * instead of taking the event loop from valid callers. Only refusals are held.
 */
export function held<T>(limits: FailureLimits, value: T): Promise<T> {
  if (limits.delayMs <= 0) return Promise.resolve(value);
  return new Promise((resolve) => setTimeout(resolve, limits.delayMs, value).unref());
}
