import { Redis } from 'ioredis';

export const REDIS_URL = process.env.KEYTURN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether the Redis tests must run: CI (`KEYTURN_REQUIRE_SERVICES=1`, which `.ci/run` sets, or any `CI`) never skips them silently. */
export const REDIS_REQUIRED = process.env.KEYTURN_REQUIRE_SERVICES === '1' || (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false');

/** Whether Redis answers `PING`. When required and unreachable, the import fails the run. */
async function redisAvailable(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3_000, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch (err) {
    if (REDIS_REQUIRED) throw new Error(`Redis is required (KEYTURN_REQUIRE_SERVICES=1 or CI) but ${REDIS_URL} is unreachable: ${(err as Error).message}`);
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Resolved once per test file at import: whether the Redis suites run. */
export const REDIS_UP = await redisAvailable();

/** A client as the tests use one: no retries per command, so an outage is an error at once. */
export function testRedis(url: string = REDIS_URL): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, commandTimeout: 2_000, connectTimeout: 2_000, retryStrategy: (n: number) => Math.min(n * 100, 1_000) });
  redis.on('error', () => {});
  return redis;
}
