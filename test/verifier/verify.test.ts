import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualContext } from '../../src/core/context.js';
import { KeyturnError } from '../../src/core/errors.js';
import { generateSecret } from '../../src/core/secret.js';
import { systemContext } from '../../src/core/context.js';
import { createVerifier, hasScopes, type Verifier } from '../../src/verifier/index.js';
import { recordingFetch, startFixture, type Fixture } from './support.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx.stop();
});

const open: Verifier[] = [];
function verifier(options: Partial<Parameters<typeof createVerifier>[0]> = {}) {
  const v = createVerifier({ url: fx.url, stream: false, ...options });
  open.push(v);
  return v;
}
afterAll(async () => {
  await Promise.all(open.map((v) => v.close()));
});

describe('verify', () => {
  it('accepts a valid key with its id, principal, scopes and expiry', async () => {
    const { id, key } = await fx.createKey({ scopes: ['read', 'write'] });
    const result = await verifier().verify(key);
    expect(result).toEqual({ valid: true, kind: 'api_key', keyId: id, principal: expect.stringMatching(/^prn_/), scopes: ['read', 'write'], expiresAt: null });
    expect(Object.isFrozen(result)).toBe(true);
    if (result.valid) expect(hasScopes(result, ['write'])).toBe(true);
  });

  it('refuses an unknown key of the right format with ERR_KEY_UNKNOWN', async () => {
    const rec = recordingFetch();
    const result = await verifier({ fetch: rec.fetch }).verify(generateSecret('kt_live', systemContext));
    expect(result).toEqual({ valid: false, code: 'ERR_KEY_UNKNOWN' });
    expect(rec.verifyCalls()).toBe(1);
  });

  it('refuses a revoked key with ERR_KEY_REVOKED', async () => {
    const { id, key } = await fx.createKey();
    await fx.revoke(id);
    expect(await verifier().verify(key)).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });
  });

  it.each([
    ['empty', ''],
    ['garbage', 'not a key'],
    ['too long', `kt_live_${'a'.repeat(5000)}`],
    ['non-string', 42 as unknown as string],
  ])('refuses a malformed key (%s) locally, without a request', async (_name, input) => {
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch });
    expect(await v.verify(input)).toEqual({ valid: false, code: 'ERR_SECRET_FORMAT' });
    expect(rec.calls).toEqual([]);
  });

  it('refuses a key with a bad checksum locally (one character changed)', async () => {
    const { key } = await fx.createKey();
    const last = key.at(-1) === 'a' ? 'b' : 'a';
    const rec = recordingFetch();
    expect(await verifier({ fetch: rec.fetch }).verify(key.slice(0, -1) + last)).toEqual({ valid: false, code: 'ERR_SECRET_FORMAT' });
    expect(rec.calls).toEqual([]);
  });

  it('refuses keys of other prefixes locally when `prefixes` is set', async () => {
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, prefixes: ['kt_live'] });
    expect(await v.verify(generateSecret('ktr', systemContext))).toEqual({ valid: false, code: 'ERR_SECRET_FORMAT' });
    expect(rec.calls).toEqual([]);
  });

  it('serves a valid key from the cache within the TTL, then asks again', async () => {
    const { key } = await fx.createKey();
    let now = 1_000_000;
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, cacheTtlMs: 30_000, now: () => now });
    const first = await v.verify(key);
    now += 29_999;
    expect(await v.verify(key)).toBe(first);
    expect(rec.verifyCalls()).toBe(1);
    now += 1;
    expect(await v.verify(key)).toEqual(first);
    expect(rec.verifyCalls()).toBe(2);
    expect(v.stats()).toMatchObject({ hits: 1, misses: 2, upstreamRequests: 2, cacheSize: 1 });
  });

  it('caches refusals only for negativeCacheTtlMs', async () => {
    let now = Date.now();
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, negativeCacheTtlMs: 5_000, now: () => now });
    const unknown = generateSecret('kt_live', systemContext);
    await v.verify(unknown);
    await v.verify(unknown);
    expect(rec.verifyCalls()).toBe(1);
    now += 5_000;
    await v.verify(unknown);
    expect(rec.verifyCalls()).toBe(2);
  });

  it('cacheTtlMs 0 turns caching off', async () => {
    const { key } = await fx.createKey();
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, cacheTtlMs: 0 });
    await v.verify(key);
    await v.verify(key);
    expect(rec.verifyCalls()).toBe(2);
  });

  it('keeps at most maxEntries answers, dropping the oldest', async () => {
    const keys = await Promise.all([fx.createKey(), fx.createKey(), fx.createKey()]);
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, maxEntries: 2 });
    for (const k of keys) await v.verify(k.key);
    expect(v.stats().cacheSize).toBe(2);
    await v.verify(keys[2]!.key);
    await v.verify(keys[1]!.key);
    expect(rec.verifyCalls()).toBe(3);
    await v.verify(keys[0]!.key);
    expect(rec.verifyCalls()).toBe(4);
  });

  it('shares one request among concurrent verifications of the same uncached key', async () => {
    const { key } = await fx.createKey();
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch });
    const results = await Promise.all(Array.from({ length: 50 }, () => v.verify(key)));
    expect(rec.verifyCalls()).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(results[0]!.valid).toBe(true);
  });

  it('throws ERR_UPSTREAM on a network error, without the key in the message', async () => {
    const { key } = await fx.createKey();
    const rec = recordingFetch({ fail: () => true });
    const err = await verifier({ fetch: rec.fetch }).verify(key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyturnError);
    expect((err as KeyturnError).code).toBe('ERR_UPSTREAM');
    expect(String((err as Error).message)).not.toContain(key);
  });

  it('throws ERR_UPSTREAM when nothing listens at the url', async () => {
    const v = createVerifier({ url: 'http://127.0.0.1:1', stream: false });
    open.push(v);
    await expect(v.verify(generateSecret('kt_live', systemContext))).rejects.toMatchObject({ code: 'ERR_UPSTREAM' });
  });

  it.each([
    [500, '{"error":"server_error"}'],
    [503, ''],
    [400, '{"error":"invalid_request"}'],
    [200, 'not json'],
    [200, '{"valid":true}'],
    [200, '{"valid":"yes"}'],
  ])('throws ERR_UPSTREAM on HTTP %i %s', async (status, body) => {
    const fake: typeof fetch = async () => new Response(body, { status });
    await expect(verifier({ fetch: fake }).verify(generateSecret('kt_live', systemContext))).rejects.toMatchObject({
      code: 'ERR_UPSTREAM',
      name: 'KeyturnError',
    });
  });

  it('fails closed on a refusal code it does not know', async () => {
    const fake: typeof fetch = async () => Response.json({ valid: false, code: 'ERR_FROM_THE_FUTURE' });
    expect(await verifier({ fetch: fake }).verify(generateSecret('kt_live', systemContext))).toEqual({ valid: false, code: 'ERR_KEY_UNKNOWN' });
  });

  it('a failed shared request rejects every waiter and is not remembered', async () => {
    let fail = true;
    const { key } = await fx.createKey();
    const rec = recordingFetch({ fail: () => fail });
    const v = verifier({ fetch: rec.fetch });
    const settled = await Promise.allSettled([v.verify(key), v.verify(key)]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect((await v.verify(key)).valid).toBe(true);
  });

  it('rejects bad options with ERR_CONFIG', () => {
    expect(() => createVerifier({ url: 'ftp://x' })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    expect(() => createVerifier({ url: 'not a url' })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    expect(() => createVerifier({ url: 'http://u:p@x' })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    expect(() => createVerifier({ url: fx.url, cacheTtlMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
  });

  it('rejects verify after close', async () => {
    const v = verifier();
    await v.close();
    await expect(v.verify(generateSecret('kt_live', systemContext))).rejects.toMatchObject({ code: 'ERR_UPSTREAM' });
  });
});

describe('expiry', () => {
  it('never serves a cached key past its expiresAt, and then reports ERR_KEY_EXPIRED', async () => {
    const ctx = manualContext(new Date());
    const own = await startFixture(ctx);
    try {
      const expiresAt = new Date(ctx.now().getTime() + 10_000).toISOString();
      const { key } = await own.createKey({ expiresAt });
      const rec = recordingFetch();
      const v = createVerifier({ url: own.url, stream: false, fetch: rec.fetch, cacheTtlMs: 3_600_000, now: () => ctx.now().getTime() });
      open.push(v);
      expect(await v.verify(key)).toMatchObject({ valid: true, expiresAt });
      ctx.advance(9_999);
      expect((await v.verify(key)).valid).toBe(true);
      expect(rec.verifyCalls()).toBe(1);
      ctx.advance(1);
      expect(await v.verify(key)).toEqual({ valid: false, code: 'ERR_KEY_EXPIRED' });
      expect(rec.verifyCalls()).toBe(2);
    } finally {
      await own.stop();
    }
  });

  it('does not cache an answer whose expiry has already passed on the local clock', async () => {
    const { key } = await fx.createKey({ expiresIn: '1h' });
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, now: () => Date.now() + 7_200_000 });
    expect((await v.verify(key)).valid).toBe(true);
    await v.verify(key);
    expect(rec.verifyCalls()).toBe(2);
  });
});
