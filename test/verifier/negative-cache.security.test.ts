import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/core/context.js';
import { generateSecret } from '../../src/core/secret.js';
import { createVerifier, type Verifier } from '../../src/verifier/index.js';
import { recordingFetch, startFixture, waitFor, type Fixture } from './support.js';

let fx: Fixture;
const open: Verifier[] = [];
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await Promise.all(open.map((v) => v.close()));
  await fx.stop();
});
function verifier(options: Partial<Parameters<typeof createVerifier>[0]> = {}) {
  const v = createVerifier({ url: fx.url, stream: false, ...options });
  open.push(v);
  return v;
}

/**
 * Issue 9, item 1: an API server embedding the verifier must not forward a flood of invented keys
 * to keyturn one for one. Negative answers are cached briefly, by digest, in bounded space.
 */
describe('verifier: negative answers', () => {
  it('forwards a flood of 20 invented keys × 50 presentations as 20 requests', async () => {
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch });
    const invented = Array.from({ length: 20 }, () => generateSecret('kt_live', systemContext));
    for (let round = 0; round < 50; round++) {
      for (const key of invented) expect(await v.verify(key)).toEqual({ valid: false, code: 'ERR_KEY_UNKNOWN' });
    }
    expect(rec.verifyCalls()).toBe(20);
  });

  it('forwards every presentation with negativeCacheTtlMs: 0, and keeps at most negativeMaxEntries', async () => {
    const rec = recordingFetch();
    const off = verifier({ fetch: rec.fetch, negativeCacheTtlMs: 0 });
    const key = generateSecret('kt_live', systemContext);
    for (let i = 0; i < 5; i++) await off.verify(key);
    expect(rec.verifyCalls()).toBe(5);
    const small = recordingFetch();
    const bounded = verifier({ fetch: small.fetch, negativeMaxEntries: 2 });
    const keys = [1, 2, 3].map(() => generateSecret('kt_live', systemContext));
    for (const k of keys) await bounded.verify(k);
    await bounded.verify(keys[1]!);
    await bounded.verify(keys[2]!);
    await bounded.verify(keys[0]!);
    // The first was pushed out by the third: asked again; the other two came from the cache.
    expect(small.verifyCalls()).toBe(4);
  });

  it('treats keyturn\'s 429 (too many failures from this source) as a refusal, cached, not an outage', async () => {
    let calls = 0;
    const v = verifier({
      fetch: (async () => {
        calls++;
        return new Response(JSON.stringify({ error: 'too_many_requests', code: 'ERR_RATE_LIMITED' }), { status: 429, headers: { 'retry-after': '7' } });
      }) as typeof fetch,
    });
    const key = generateSecret('kt_live', systemContext);
    expect(await v.verify(key)).toEqual({ valid: false, code: 'ERR_KEY_UNKNOWN' });
    expect(await v.verify(key)).toEqual({ valid: false, code: 'ERR_KEY_UNKNOWN' });
    expect(calls).toBe(1);
  });

  it('drops cached refusals when the change stream reports a change: an unsuspended key verifies again at once', async () => {
    const v = createVerifier({ url: fx.url, apiKey: fx.streamKey, negativeCacheTtlMs: 3_600_000 });
    open.push(v);
    await waitFor(() => v.stats().stream === 'open', 5_000, 'stream open');
    const { id, key } = await fx.createKey();
    expect((await fx.server.api('POST', `/v1/keys/${id}/suspend`, {})).status).toBe(200);
    await waitFor(async () => (await v.verify(key)).valid === false, 5_000, 'suspension seen');
    expect(await v.verify(key)).toEqual({ valid: false, code: 'ERR_KEY_SUSPENDED' });
    expect((await fx.server.api('POST', `/v1/keys/${id}/unsuspend`, {})).status).toBe(200);
    await waitFor(async () => (await v.verify(key)).valid, 5_000, 'unsuspension seen despite an hour-long negative TTL');
  });
});
