import { redisReplayStore, type DpopReplayStore } from '../core/dpop-replay.js';
import { KeyturnError } from '../core/errors.js';

/** The DPoP replay store on Redis, and how to let go of its connection. */
export interface RedisReplay {
  readonly replay: DpopReplayStore;
  close(): Promise<void>;
}

/**
 * Connects to the Redis of `dpopReplayStore: redis`. `ioredis` is imported here only, when that is
 * configured: a deployment on the store's table never loads it. Commands fail fast rather than
 * queue while Redis is away (no retries per command, a 2 s command timeout, reconnecting in the
 * background), so a DPoP request is refused at once instead of hanging; nothing is ever accepted
 * without the `SET NX` answer. The URL (it may hold a password) is never logged or put in an error.
 */
export async function openRedisReplay(url: string, options: { onError?: (err: Error) => void } = {}): Promise<RedisReplay> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
  });
  // Without a listener an error event would be thrown; the commands themselves report the outage.
  redis.on('error', (err: Error) => options.onError?.(err));
  try {
    await redis.connect();
  } catch (cause) {
    redis.disconnect();
    throw new KeyturnError('ERR_CONFIG', 'dpopRedisUrl: Redis does not answer (keyturn does not start without the DPoP replay store it is configured with)', { cause: scrub(cause, url) });
  }
  return {
    replay: redisReplayStore(redis, { prefix: 'keyturn:dpop:as:' }),
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** `cause` without the URL in its message (ioredis quotes addresses, not credentials, but be sure). */
function scrub(cause: unknown, url: string): unknown {
  return cause instanceof Error && cause.message.includes(url) ? new Error(cause.message.split(url).join('<dpopRedisUrl>')) : cause;
}
