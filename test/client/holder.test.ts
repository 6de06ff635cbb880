import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyHolder, type KeyHolder } from '../../src/client/index.js';
import { startOAuthServer, type OAuthServer } from '../oauth/support.js';

const SECOND = 1000;

/** An API server that lets a request through when keyturn verifies its bearer key (as a resource server does). */
async function apiServer(keyturnUrl: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const key = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    fetch(`${keyturnUrl}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) })
      .then((r) => r.json() as Promise<{ valid: boolean }>)
      .then((answer) => {
        res.writeHead(answer.valid ? 200 : 401, { 'content-type': 'text/plain' }).end(answer.valid ? 'ok' : 'no');
      })
      .catch(() => res.writeHead(502).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/things`, server };
}

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('createKeyHolder (keyturn/client) against a listening server', () => {
  let kt: OAuthServer;
  let api: { url: string; server: Server };
  let dir: string;
  beforeAll(async () => {
    kt = await startOAuthServer({ rotationTick: 0 });
    api = await apiServer(kt.url);
    dir = mkdtempSync(join(tmpdir(), 'keyturn-holder-'));
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'svc' });
    const policy = await kt.api('POST', '/v1/policies', { name: 'fast', from: 'default', keyRotationInterval: 60, keyRotationGrace: 30 });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
  });
  afterAll(async () => {
    await new Promise((r) => api.server.close(r));
    await kt.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rotates before the deadline and collects scheduled successors under continuous load: zero failed calls across several rotations', async () => {
    const created = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'worker', policy: 'fast' })).body as { id: string; key: string };
    const file = join(dir, 'worker.key');
    writeFileSync(file, `${created.key}\n`, { mode: 0o640 });
    chmodSync(file, 0o640);
    const errors: Error[] = [];
    const handed: string[] = [];
    const holder: KeyHolder = createKeyHolder({
      url: kt.url,
      key: readFileSync(file, 'utf8').trim(),
      persist: file,
      checkEveryMs: 15,
      leadMs: 0,
      now: () => kt.ctx.now().getTime(),
      onRotate: (key) => handed.push(key),
      onError: (err) => errors.push(err),
    });
    let stop = false;
    const statuses = new Map<number, number>();
    const worker = async () => {
      while (!stop) {
        const res = await holder.fetch(api.url);
        await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    const keys = [created.key];
    try {
      for (let round = 0; round < 4; round++) {
        const before = holder.key();
        if (round % 2 === 0) {
          // The key comes due: the holder sees it and rotates it itself.
          kt.ctx.advance(61 * SECOND);
        } else {
          // The server's scheduler rotated it first: the holder collects the sealed successor.
          const id = (await kt.api('POST', '/v1/keys/verify', { key: before }, null)).body.keyId as string;
          await kt.kt.keys.rotate(id, { by: 'schedule' }, { actor: null, actorKind: null, sourceIp: null, requestId: 'test' });
        }
        await until(`rotation ${round + 1}`, () => holder.key() !== before);
        keys.push(holder.key());
        // Calls go on with the new key; then the old one's grace ends and the server retires it.
        const calls = [...statuses.values()].reduce((a, b) => a + b, 0);
        await until('calls with the new key', () => [...statuses.values()].reduce((a, b) => a + b, 0) > calls + 20);
        kt.ctx.advance(31 * SECOND);
        await kt.kt.keys.settleDeadlines(100);
        expect((await kt.api('POST', '/v1/keys/verify', { key: before }, null)).body).toMatchObject({ valid: false });
      }
      const calls = [...statuses.values()].reduce((a, b) => a + b, 0);
      await until('calls after the last rotation', () => [...statuses.values()].reduce((a, b) => a + b, 0) > calls + 20);
    } finally {
      stop = true;
      await Promise.all(workers);
      holder.close();
    }
    expect(errors).toEqual([]);
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)).toBeGreaterThan(100);
    // Four rotations, each key distinct; the holder handed every one over and persisted the last.
    expect(new Set(keys).size).toBe(5);
    expect(handed).toEqual(keys.slice(1));
    expect(readFileSync(file, 'utf8')).toBe(`${holder.key()}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    const reasons = ((await kt.api('GET', '/v1/events?type=key.rotated')).body.items as { reason: string }[]).map((e) => e.reason);
    expect(reasons.filter((r) => r === 'self').length).toBe(2);
    expect(reasons.filter((r) => r === 'schedule').length).toBe(2);
    expect(((await kt.api('GET', '/v1/events?type=key.successor_picked_up')).body.items as unknown[]).length).toBe(2);
  });

  it('persists to an env file line or through a callback; a failed persist keeps the new key in use and is retried', async () => {
    const a = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'env', policy: 'fast' })).body as { id: string; key: string };
    const env = join(dir, '.env');
    writeFileSync(env, `OTHER=1\nexport API_KEY="${a.key}" # the worker's key\n`, { mode: 0o600 });
    const envHolder = createKeyHolder({ url: kt.url, key: a.key, persist: { envFile: env, variable: 'API_KEY' }, checkEveryMs: 0 });
    const r1 = await envHolder.rotate();
    expect(readFileSync(env, 'utf8')).toBe(`OTHER=1\nexport API_KEY="${envHolder.key()}" # the worker's key\n`);
    expect(r1.predecessor.id).toBe(a.id);

    const b = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'cb', policy: 'fast' })).body as { id: string; key: string };
    let fail = true;
    const stored: string[] = [];
    const errors: Error[] = [];
    const cb = createKeyHolder({
      url: kt.url,
      key: b.key,
      checkEveryMs: 0,
      persist: (key) => {
        if (fail) throw new Error('vault unavailable');
        stored.push(key);
      },
      onError: (err) => errors.push(err),
    });
    await cb.rotate();
    expect(cb.key()).not.toBe(b.key);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/persisting key key_\w+ failed \(retried at the next check\): vault unavailable/)]);
    expect(errors[0]!.message).not.toContain(cb.key());
    fail = false;
    expect(await cb.check()).toBeNull();
    expect(stored).toEqual([cb.key()]);
  });

  it('holder.fetch retries once with the new key a 401 answered to a key replaced while the call was in flight, never otherwise', async () => {
    const seen: string[] = [];
    let holder: KeyHolder | undefined;
    const stub: typeof fetch = async (input, init) => {
      const url = String(input);
      const auth = new Headers(init?.headers).get('authorization') ?? '';
      if (url.endsWith('/v1/keys/self/rotate')) {
        return Response.json({ id: 'key_b', key: 'kt_live_B', predecessor: { id: 'key_a', graceEndsAt: null } });
      }
      seen.push(`${new Headers(init?.headers).get('x-trace') ?? '-'} ${auth}`);
      if (auth === 'Bearer kt_live_A') {
        await holder!.rotate(); // the key is replaced while this call is in flight, and the old one has stopped
        return new Response('no', { status: 401 });
      }
      return new Response(auth === 'Bearer kt_live_B' ? 'ok' : 'no', { status: auth === 'Bearer kt_live_B' ? 200 : 401 });
    };
    holder = createKeyHolder({ url: 'http://keyturn.test', key: 'kt_live_A', persist: () => {}, checkEveryMs: 0, fetch: stub });
    const res = await holder.fetch('http://api.test/x', { headers: { 'x-trace': 't1' } });
    expect(res.status).toBe(200);
    expect(seen).toEqual(['t1 Bearer kt_live_A', 't1 Bearer kt_live_B']);
    // A 401 to the key still held is the answer: no retry.
    const other = createKeyHolder({ url: 'http://keyturn.test', key: 'kt_live_C', persist: () => {}, checkEveryMs: 0, fetch: stub });
    seen.length = 0;
    expect((await other.fetch('http://api.test/y')).status).toBe(401);
    expect(seen).toEqual(['- Bearer kt_live_C']);
  });

  it('a key that does not verify is reported, never replaced by guesswork; a successor collected elsewhere names its id', async () => {
    const c = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'lost', policy: 'fast' })).body as { id: string; key: string };
    const rotated = (await kt.api('POST', '/v1/keys/self/rotate', {}, c.key)).body as { id: string };
    const holder = createKeyHolder({ url: kt.url, key: c.key, persist: () => {}, checkEveryMs: 0 });
    await expect(holder.check()).rejects.toMatchObject({ code: 'ERR_KEY_STATE', message: expect.stringContaining(rotated.id) });
    expect(holder.key()).toBe(c.key);
    await kt.api('POST', `/v1/keys/${rotated.id}/revoke`, {});
    const dead = createKeyHolder({ url: kt.url, key: (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'dead' })).body.key, persist: () => {}, checkEveryMs: 0 });
    await kt.api('POST', `/v1/keys/${(await kt.api('GET', '/v1/keys?owner=svc&limit=1000')).body.items.find((k: { name: string; status: string }) => k.name === 'dead').id}/revoke`, {});
    await expect(dead.check()).rejects.toMatchObject({ name: 'KeyHolderError', message: expect.stringContaining('does not verify') });
  });
});
