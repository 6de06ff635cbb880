import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualContext } from '../../src/core/context.js';
import { GitHubKeys, verifyGitHubSignature } from '../../src/leaks/respond/github.js';
import type { TestServer } from '../support/server.js';
import { describeStore } from '../support/stores.js';
import { Fake } from './support/corpus.js';
import { startLeakServer, startReceiver, type Receiver } from './support/server.js';

const fake = new Fake(1618);

function p256(): { privateKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function signature(body: Buffer | string, key: KeyObject): string {
  return sign('sha256', Buffer.from(body), { key, dsaEncoding: 'der' }).toString('base64');
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describeStore('GitHub secret scanning partner endpoint', (kind) => {
  const current = p256();
  const older = p256();
  const rotated = p256();
  const stranger = p256();
  const ctx = manualContext(new Date());
  let keysServer: Receiver;
  let published: { key_identifier: string; key: string; is_current: boolean }[];
  let server: TestServer;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    published = [
      { key_identifier: 'kid-current', key: current.pem, is_current: true },
      { key_identifier: 'kid-old', key: older.pem, is_current: false },
    ];
    keysServer = await startReceiver(() => ({ status: 200, body: JSON.stringify({ public_keys: published }) }));
    ({ server, stop } = await startLeakServer(kind, { githubKeysUrl: `${keysServer.url}/meta/public_keys/secret_scanning` }, ctx));
    await server.api('POST', '/v1/principals', { kind: 'service', name: 'gh-owner' });
  });
  afterAll(async () => {
    await stop();
    await keysServer.close();
  });
  beforeEach(() => {
    ctx.advance(120_000); // rate-limit buckets refill, GitHub keys may be refetched
  });

  async function post(body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
    const res = await fetch(`${server.url}/v1/leaks/github`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async function newKey(name: string): Promise<{ id: string; key: string }> {
    return (await server.api('POST', '/v1/keys', { owner: 'gh-owner', name })).body;
  }

  async function verifyCode(secret: string): Promise<string | undefined> {
    const body = (await server.api('POST', '/v1/keys/verify', { key: secret }, null)).body as { valid: boolean; code?: string };
    return body.valid ? 'valid' : body.code;
  }

  it('verifies the signature over the raw body, suspends our key and answers the partner feedback', async () => {
    const ours = await newKey('leaked-on-github');
    const github = fake.githubClassic();
    const foreign = fake.keyturn('kt_live');
    // formatting GitHub may use: the signature covers these exact bytes, whitespace included
    const raw = `[ {"token":"${ours.key}","type":"keyturn_api_key","url":"https://github.com/o/r/blob/abc/.env","source":"content"},\n  {"token":"${foreign}","type":"keyturn_api_key","url":"https://gist.github.com/x","source":"gist"},{"token":"${github}","type":"keyturn_api_key"} ]`;
    const res = await post(raw, { 'Github-Public-Key-Identifier': 'kid-current', 'Github-Public-Key-Signature': signature(raw, current.privateKey) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { token_hash: sha256(ours.key), token_type: 'keyturn_api_key', label: 'true_positive' },
      { token_hash: sha256(foreign), token_type: 'keyturn_api_key', label: 'false_positive' },
      { token_hash: sha256(github), token_type: 'keyturn_api_key', label: 'false_positive' },
    ]);
    expect(await verifyCode(ours.key)).toBe('ERR_KEY_SUSPENDED');
    const findings = (await server.api('GET', `/v1/leaks/findings?key=${ours.id}`)).body.items as { id: string }[];
    const places = (await server.api('GET', `/v1/leaks/findings/${findings[0]!.id}`)).body.places as Record<string, unknown>[];
    expect(places).toEqual([expect.objectContaining({ via: 'github', source: 'github:content', url: 'https://github.com/o/r/blob/abc/.env' })]);
    // tokens that were not ours leave nothing behind
    expect((await server.api('GET', '/v1/leaks/findings')).body.items).toHaveLength(1);

    // the same report again (GitHub retries): same feedback, nothing done twice
    const again = await post(raw, { 'Github-Public-Key-Identifier': 'kid-current', 'Github-Public-Key-Signature': signature(raw, current.privateKey) });
    expect(again.body[0].label).toBe('true_positive');
    expect((await server.api('GET', `/v1/events?type=key.suspended&target=${ours.id}`)).body.items).toHaveLength(1);
  });

  it('accepts a non-current published key and picks up a rotated key by refetching on an unknown identifier', async () => {
    const a = await newKey('old-signed');
    const rawA = JSON.stringify([{ token: a.key, type: 'keyturn_api_key', url: 'https://github.com/o/r', source: 'commit' }]);
    expect((await post(rawA, { 'Github-Public-Key-Identifier': 'kid-old', 'Github-Public-Key-Signature': signature(rawA, older.privateKey) })).status).toBe(200);
    expect(await verifyCode(a.key)).toBe('ERR_KEY_SUSPENDED');

    published.push({ key_identifier: 'kid-rotated', key: rotated.pem, is_current: true });
    const fetchesBefore = keysServer.received.length;
    const b = await newKey('rotated-signed');
    const rawB = JSON.stringify([{ token: b.key, type: 'keyturn_api_key' }]);
    expect((await post(rawB, { 'Github-Public-Key-Identifier': 'kid-rotated', 'Github-Public-Key-Signature': signature(rawB, rotated.privateKey) })).status).toBe(200);
    expect(await verifyCode(b.key)).toBe('ERR_KEY_SUSPENDED');
    expect(keysServer.received.length).toBe(fetchesBefore + 1);
    // cached by identifier from now on
    const c = await newKey('cached');
    const rawC = JSON.stringify([{ token: c.key, type: 'keyturn_api_key' }]);
    await post(rawC, { 'Github-Public-Key-Identifier': 'kid-rotated', 'Github-Public-Key-Signature': signature(rawC, rotated.privateKey) });
    expect(keysServer.received.length).toBe(fetchesBefore + 1);
  });

  it('changes nothing for a tampered body, an unknown or wrong key, or missing headers', async () => {
    const victim = await newKey('victim');
    const raw = JSON.stringify([{ token: victim.key, type: 'keyturn_api_key' }]);
    const good = signature(raw, current.privateKey);
    const tampered = raw.replace('keyturn_api_key', 'keyturn_api_kez');
    const cases: [string, Buffer | string, Record<string, string>, number, string][] = [
      ['tampered body', tampered, { 'Github-Public-Key-Identifier': 'kid-current', 'Github-Public-Key-Signature': good }, 401, 'ERR_SIGNATURE_INVALID'],
      ['re-serialised body', JSON.stringify(JSON.parse(raw), null, 1), { 'Github-Public-Key-Identifier': 'kid-current', 'Github-Public-Key-Signature': good }, 401, 'ERR_SIGNATURE_INVALID'],
      ['unknown identifier', raw, { 'Github-Public-Key-Identifier': 'kid-nope', 'Github-Public-Key-Signature': good }, 401, 'ERR_SIGNATURE_INVALID'],
      ['signed by a key GitHub does not publish', raw, { 'Github-Public-Key-Identifier': 'kid-current', 'Github-Public-Key-Signature': signature(raw, stranger.privateKey) }, 401, 'ERR_SIGNATURE_INVALID'],
      ['signature by the other published key', raw, { 'Github-Public-Key-Identifier': 'kid-current', 'Github-Public-Key-Signature': signature(raw, older.privateKey) }, 401, 'ERR_SIGNATURE_INVALID'],
      ['garbage signature', raw, { 'Github-Public-Key-Identifier': 'kid-current', 'Github-Public-Key-Signature': 'bm90IGEgc2lnbmF0dXJl' }, 401, 'ERR_SIGNATURE_INVALID'],
      ['missing signature', raw, { 'Github-Public-Key-Identifier': 'kid-current' }, 400, 'ERR_VALIDATION'],
      ['missing identifier', raw, { 'Github-Public-Key-Signature': good }, 400, 'ERR_VALIDATION'],
    ];
    for (const [name, body, headers, status, code] of cases) {
      ctx.advance(60_000);
      const res = await post(body, headers);
      expect([name, res.status, res.body?.code]).toEqual([name, status, code]);
    }
    expect(await verifyCode(victim.key)).toBe('valid');
    expect((await server.api('GET', `/v1/leaks/findings?key=${victim.id}`)).body.items).toEqual([]);
    const rejected = (await server.api('GET', '/v1/events?type=leak.report_rejected&limit=1000')).body.items as { outcome: string; data: { via: string } }[];
    expect(rejected.length).toBeGreaterThanOrEqual(cases.length);
    expect(rejected.every((e) => e.outcome === 'failure' && e.data.via === 'github')).toBe(true);
  });

  it('takes batches larger than the general body limit (GitHub sends up to 1000 matches)', async () => {
    const ours = await newKey('in-a-big-batch');
    const matches = Array.from({ length: 999 }, (_, i) => ({ token: `ghp_notours${i}`, type: 'keyturn_api_key', url: `https://github.com/o/r/blob/${'f'.repeat(40)}/file${i}.txt`, source: 'content' }));
    matches.push({ token: ours.key, type: 'keyturn_api_key', url: 'https://github.com/o/r', source: 'content' });
    const raw = JSON.stringify(matches);
    expect(raw.length).toBeGreaterThan(65_536);
    const res = await post(raw, { 'Github-Public-Key-Identifier': 'kid-current', 'Github-Public-Key-Signature': signature(raw, current.privateKey) });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(1000);
    expect(res.body.filter((f: { label: string }) => f.label === 'true_positive')).toEqual([{ token_hash: sha256(ours.key), token_type: 'keyturn_api_key', label: 'true_positive' }]);
    expect(await verifyCode(ours.key)).toBe('ERR_KEY_SUSPENDED');
  });

  it('validates the signed body and rate-limits an address that keeps sending bad signatures', async () => {
    const notArray = JSON.stringify({ token: 'x' });
    const res = await post(notArray, { 'Github-Public-Key-Identifier': 'kid-current', 'Github-Public-Key-Signature': signature(notArray, current.privateKey) });
    expect([res.status, res.body.code]).toEqual([400, 'ERR_VALIDATION']);
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) statuses.push((await post('[]', { 'Github-Public-Key-Identifier': 'kid-current', 'Github-Public-Key-Signature': 'AAAA' })).status);
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
  });
});

describe('GitHubKeys', () => {
  it('ignores keys that are not P-256 and bounds refetching for unknown identifiers', async () => {
    const ec = p256();
    const { publicKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let fetches = 0;
    let now = 0;
    const keys = new GitHubKeys({
      url: 'https://keys.invalid/',
      now: () => now,
      minRefetchMs: 60_000,
      fetch: (async () => {
        fetches++;
        return new Response(
          JSON.stringify({
            public_keys: [
              { key_identifier: 'ec', key: ec.pem, is_current: true },
              { key_identifier: 'rsa', key: rsa.export({ type: 'spki', format: 'pem' }).toString(), is_current: false },
              { key_identifier: 'junk', key: 'not pem', is_current: false },
            ],
          }),
        );
      }) as typeof fetch,
    });
    expect(await keys.key('ec')).toBeDefined();
    expect(await keys.key('rsa')).toBeUndefined();
    expect(await keys.key('junk')).toBeUndefined();
    await Promise.all([keys.key('a'), keys.key('b'), keys.key('c')]);
    expect(fetches).toBe(1);
    now += 60_000;
    await Promise.all([keys.key('a'), keys.key('b')]);
    expect(fetches).toBe(2);
    const body = Buffer.from('[]');
    expect(verifyGitHubSignature((await keys.key('ec'))!, signature(body, ec.privateKey), body)).toBe(true);
    expect(verifyGitHubSignature((await keys.key('ec'))!, signature(body, ec.privateKey), Buffer.from('[ ]'))).toBe(false);
  });
});
