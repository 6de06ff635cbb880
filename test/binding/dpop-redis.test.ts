import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { dpopThumbprint } from '../../src/core/dpop.js';
import { isKeyturnError } from '../../src/core/errors.js';
import { createLogger } from '../../src/runtime/logger.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { createVerifier, redisReplayStore, type VerifierOptions } from '../../src/verifier/index.js';
import { basic, startOAuthServer, type OAuthServer, type RegisteredClient } from '../oauth/support.js';
import { REDIS_UP, REDIS_URL, testRedis } from '../support/redis.js';
import { PG_UP, PG_URL } from '../support/stores.js';
import { makeProof, proofKey, startResourceServer } from './support.js';

/**
 * The DPoP `jti` replay store on a real Redis (`SET NX PX`): shared by API servers embedding the
 * verifier and by keyturn nodes (`dpopReplayStore: redis`), so a proof is accepted once across
 * them; and failing closed when Redis does not answer.
 */
describe.runIf(REDIS_UP)('DPoP replay store on Redis', () => {
  const redis = testRedis();
  afterAll(() => redis.quit());

  it('SET NX PX: the first use wins, the id is namespaced, expires with the proof window, and is the digest (never the raw jti)', async () => {
    const prefix = `test:${randomBytes(4).toString('hex')}:`;
    let now = Date.now();
    const store = redisReplayStore(redis, { prefix, now: () => now });
    const id = createHash('sha256').update('jkt.the-jti').digest('base64url');
    expect(await store.first(id, now + 65_000)).toBe(true);
    expect(await store.first(id, now + 65_000)).toBe(false);
    const ttl = await redis.pttl(`${prefix}${id}`);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(65_000);
    const keys = await redis.keys(`${prefix}*`);
    expect(keys).toEqual([`${prefix}${id}`]);
    // A window already over still writes a key (for 1 ms at least) rather than a refused command.
    now += 100_000;
    expect(await store.first('other', now - 1)).toBe(true);
  });

  describe('API servers embedding the verifier', () => {
    const audience = 'https://api.example';
    let options: (prefix: string) => VerifierOptions;
    let token: string;
    let key: Awaited<ReturnType<typeof proofKey>>;

    beforeAll(async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
      key = await proofKey('ed25519');
      const jkt = await dpopThumbprint(key.jwk);
      token = await new SignJWT({ sub: 'prn_1', client_id: 'cli_1', scope: 'read', jti: randomBytes(8).toString('hex'), cnf: { jkt } })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
        .setIssuer('http://keyturn.invalid')
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      options = (prefix) => ({ url: 'http://keyturn.invalid', audience, jwks: { keys: [jwk] }, dpop: { publicOrigin: audience, replay: redisReplayStore(redis, { prefix }) } });
    });

    it('a proof accepted by one instance is a replay on another sharing the Redis (each with its own process memory)', async () => {
      const prefix = `test:${randomBytes(4).toString('hex')}:`;
      const a = createVerifier(options(prefix));
      const b = createVerifier(options(prefix));
      const request = (proof: string) => ({ method: 'GET', url: '/orders', headers: { host: 'ignored.example', authorization: `DPoP ${token}`, dpop: proof } });
      const proof = await makeProof(key, 'GET', `${audience}/orders`, { accessToken: token });
      expect(await a.verifyRequest(request(proof))).toMatchObject({ valid: true, cnf: { jkt: await dpopThumbprint(key.jwk) } });
      expect(await b.verifyRequest(request(proof))).toMatchObject({ valid: false, code: 'ERR_INVALID_DPOP_PROOF', dpopReason: 'replay' });
      expect(await a.verifyRequest(request(proof))).toMatchObject({ valid: false, dpopReason: 'replay' });
      // A fresh proof works on either.
      expect(await b.verifyRequest(request(await makeProof(key, 'GET', `${audience}/orders`, { accessToken: token })))).toMatchObject({ valid: true });
      // Another deployment (another prefix) on the same Redis keeps its own ids.
      const c = createVerifier(options(`test:${randomBytes(4).toString('hex')}:`));
      expect(await c.verifyRequest(request(proof))).toMatchObject({ valid: true });
      await Promise.all([a.close(), b.close(), c.close()]);
    });

    it('Redis unreachable: the request is refused as an outage (ERR_UPSTREAM; 503 through the middleware), never accepted', async () => {
      const down = testRedis('redis://127.0.0.1:1');
      const v = createVerifier({ ...options('x:'), dpop: { publicOrigin: audience, replay: redisReplayStore(down) } });
      const proof = await makeProof(key, 'GET', `${audience}/orders`, { accessToken: token });
      const refused = await v.verifyRequest({ method: 'GET', url: '/orders', headers: { authorization: `DPoP ${token}`, dpop: proof } }).then(
        (r) => r,
        (err: unknown) => err,
      );
      expect(isKeyturnError(refused, 'ERR_UPSTREAM')).toBe(true);
      await v.close();
      const rs = await startResourceServer({ ...options('x:'), dpop: { replay: redisReplayStore(down) } });
      const res = await fetch(`${rs.url}/orders`, { headers: { authorization: `DPoP ${token}`, dpop: await makeProof(key, 'GET', `${rs.url}/orders`, { accessToken: token }) } });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
      await rs.close();
      down.disconnect();
    });
  });

  describe('keyturn with dpopReplayStore: redis', () => {
    let kt: OAuthServer;
    let app: RegisteredClient;
    let proxy: Server;
    const sockets = new Set<Socket>();

    beforeAll(async () => {
      // keyturn reaches Redis through a TCP relay the test can cut (the shared Redis itself stays up).
      const target = new URL(REDIS_URL);
      proxy = createServer((client) => {
        const upstream = connect(Number(target.port || 6379), target.hostname);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const port = (proxy.address() as { port: number }).port;
      kt = await startOAuthServer({ dpopReplayStore: 'redis', dpopRedisUrl: `redis://127.0.0.1:${port}`, dpopNonce: false });
      app = await kt.createClient({ name: 'redis-dpop', scopes: ['read'] });
    });
    afterAll(async () => {
      await kt?.stop();
      for (const s of sockets) s.destroy();
      proxy?.close();
    });

    const post = (proof: string) =>
      fetch(kt.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(app.id, app.secret), dpop: proof },
        body: 'grant_type=client_credentials',
      });

    it('a proof is accepted once; its id is in Redis under keyturn:dpop:as:, not in the store table', async () => {
      kt.ctx.set(new Date());
      const key = await proofKey();
      const proof = await makeProof(key, 'POST', kt.tokenUrl);
      const first = await post(proof);
      expect(first.status).toBe(200);
      expect(await first.json()).toMatchObject({ token_type: 'DPoP' });
      const again = await post(proof);
      expect(again.status).toBe(400);
      expect(await again.json()).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'DPoP proof was already used' });
      const jti = JSON.parse(Buffer.from(proof.split('.')[1]!, 'base64url').toString()).jti as string;
      const id = createHash('sha256').update(`${await dpopThumbprint(key.jwk)}.${jti}`).digest('base64url');
      expect(await redis.exists(`keyturn:dpop:as:${id}`)).toBe(1);
      expect(await kt.kt.store.all('SELECT id FROM binding_dpop_jtis', [])).toEqual([]);
    });

    it('Redis cut off: DPoP token requests are refused (503 temporarily_unavailable), a bearer one still works', async () => {
      kt.ctx.set(new Date());
      proxy.close();
      for (const s of sockets) s.destroy();
      const key = await proofKey();
      const res = await post(await makeProof(key, 'POST', kt.tokenUrl));
      expect(res.status).toBe(503);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ error: 'temporarily_unavailable' });
      expect(body).not.toHaveProperty('access_token');
      const bearer = await fetch(kt.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(app.id, app.secret) },
        body: 'grant_type=client_credentials',
      });
      expect(bearer.status).toBe(200);
    });
  });

  it('keyturn does not start when its configured Redis does not answer, and says so without the URL\u2019s password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyturn-redis-down-'));
    try {
      const started = await startServer(
        loadConfig({ flags: { dataDir: dir, port: 0, logLevel: 'silent', dpopReplayStore: 'redis', dpopRedisUrl: 'redis://:hunter2-secret@127.0.0.1:1' } }),
        { logger: createLogger('silent') },
      ).then(
        (s) => s,
        (err: unknown) => err,
      );
      expect(isKeyturnError(started, 'ERR_CONFIG')).toBe(true);
      expect((started as Error).message).toMatch(/dpopRedisUrl: Redis does not answer/);
      expect(JSON.stringify({ message: (started as Error).message, cause: String((started as Error).cause) })).not.toContain('hunter2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dpopReplayStore redis without dpopRedisUrl is a configuration error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyturn-redis-nourl-'));
    try {
      await expect(startServer(loadConfig({ flags: { dataDir: dir, port: 0, logLevel: 'silent', dpopReplayStore: 'redis' } }), { logger: createLogger('silent') })).rejects.toMatchObject({
        code: 'ERR_CONFIG',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Two keyturn nodes of one deployment (one PostgreSQL, one issuer, one master key) with the replay
 * store on Redis: a proof used on one node is a replay on the other.
 */
describe.runIf(REDIS_UP && PG_UP)('DPoP across two keyturn nodes sharing Redis', () => {
  let a: OAuthServer;
  let b: RunningServer;
  let bDir: string;
  let app: RegisteredClient;

  beforeAll(async () => {
    const db = `${PG_URL}?schema=kt_dpopredis_${randomBytes(5).toString('hex')}`;
    const masterKey = randomBytes(32).toString('hex');
    const redis = { dpopReplayStore: 'redis', dpopRedisUrl: REDIS_URL } as const;
    a = await startOAuthServer({ db, masterKey, ...redis });
    bDir = mkdtempSync(join(tmpdir(), 'keyturn-node-b-'));
    b = await startServer(loadConfig({ flags: { dataDir: bDir, port: 0, logLevel: 'silent', db, masterKey, issuer: a.url, ...redis } }), { logger: createLogger('silent') });
    app = await a.createClient({ name: 'cluster-redis', scopes: ['read'] });
  });
  afterAll(async () => {
    await b?.close();
    if (bDir) rmSync(bDir, { recursive: true, force: true });
    await a?.stop();
  });

  it('a proof accepted by node A is refused as a replay by node B', async () => {
    a.ctx.set(new Date());
    const key = await proofKey('ed25519');
    const post = async (node: { url: string }, proof: string) => {
      const res = await fetch(`${node.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(app.id, app.secret), dpop: proof },
        body: 'grant_type=client_credentials',
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
    };
    const handshake = await post(a, await makeProof(key, 'POST', a.tokenUrl));
    const nonce = handshake.headers.get('dpop-nonce')!;
    const proof = await makeProof(key, 'POST', a.tokenUrl, { nonce });
    expect((await post(a, proof)).status).toBe(200);
    const replayed = await post(b, proof);
    expect(replayed.status).toBe(400);
    expect(replayed.body).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'DPoP proof was already used' });
    expect(await a.kt.store.all('SELECT id FROM binding_dpop_jtis', [])).toEqual([]);
  });
});
