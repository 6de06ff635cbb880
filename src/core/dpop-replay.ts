import { KeyturnError } from './errors.js';

/**
 * Remembers DPoP proof ids (`jti`, per key) for as long as a proof could be accepted, so a proof is
 * accepted once (RFC 9449 §11.1). `first` resolves `false` for an id seen before, and throws when it
 * cannot tell (the caller then refuses the request: fail closed). Several instances of an API behind
 * one load balancer share one, e.g. {@link redisReplayStore}; the default keeps them in this process.
 *
 * @example
 * ```ts
 * if (!(await replay.first(id, proof.replayUntil))) refuse('replay');
 * ```
 */
export interface DpopReplayStore {
  first(id: string, untilMs: number): boolean | Promise<boolean>;
}

/**
 * The one command {@link redisReplayStore} needs of a Redis client: ioredis's `set(key, value, 'PX', ms, 'NX')`
 * (`'OK'` when the key was set, `null` when it existed). node-redis v4+ fits through a two-line adapter.
 */
export interface RedisSetNx {
  set(key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<unknown>;
}

/** Options of {@link redisReplayStore}. */
export interface RedisReplayOptions {
  /** Namespace of the keys (default `keyturn:dpop:`); give each deployment sharing a Redis its own. */
  readonly prefix?: string;
  /** Epoch milliseconds (default `Date.now`). */
  readonly now?: () => number;
}

/**
 * A {@link DpopReplayStore} on Redis, shared by every node that uses the same Redis: one
 * `SET <prefix><id> 1 NX PX <ms left in the proof's window>` decides the first use atomically, and
 * Redis forgets the id when the proof could no longer be accepted anyway. The id is already a
 * SHA-256 digest (of the key's thumbprint and the `jti`), so keys have a fixed length and carry no
 * client-chosen text. A failed or timed-out command throws `ERR_STORE_UNAVAILABLE`: the proof is
 * refused, never accepted unchecked.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 0, commandTimeout: 1000 });
 * createVerifier({ url, audience, dpop: { replay: redisReplayStore(redis, { prefix: 'orders-api:dpop:' }) } });
 * ```
 */
export function redisReplayStore(redis: RedisSetNx, options: RedisReplayOptions = {}): DpopReplayStore {
  const prefix = options.prefix ?? 'keyturn:dpop:';
  const now = options.now ?? Date.now;
  return {
    async first(id: string, untilMs: number): Promise<boolean> {
      let answer: unknown;
      try {
        answer = await redis.set(`${prefix}${id}`, '1', 'PX', Math.max(1, Math.ceil(untilMs - now())), 'NX');
      } catch (cause) {
        throw new KeyturnError('ERR_STORE_UNAVAILABLE', 'the DPoP replay store (Redis) is unavailable: proofs are refused until it answers', { cause });
      }
      if (answer === 'OK') return true;
      if (answer === null) return false;
      throw new KeyturnError('ERR_STORE_UNAVAILABLE', 'the DPoP replay store (Redis) gave an unexpected answer to SET NX');
    },
  };
}
