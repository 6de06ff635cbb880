import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { signJwt } from '../../src/signing/jws.js';
import { SigningThread } from '../../src/signing/thread.js';

const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const header = (alg: 'ES256' | 'EdDSA', kid: string) => Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid })).toString('base64url');

describe('SigningThread', () => {
  const threads: SigningThread[] = [];
  const thread = () => {
    const t = new SigningThread();
    threads.push(t);
    return t;
  };
  afterEach(async () => {
    for (const t of threads.splice(0)) await t.close();
  });

  it('signs ES256 (R‖S, RFC 7518 §3.4) and EdDSA JWS that jose verifies, payload as given', async () => {
    const t = thread();
    const payload = { sub: 'prn_1', scope: 'read write', n: 1, nested: { ü: 'ß' } };
    const [a, b] = await Promise.all([t.sign(es.privateKey, true, header('ES256', 'k1'), JSON.stringify(payload)), t.sign(ed.privateKey, false, header('EdDSA', 'k2'), JSON.stringify(payload))]);
    const va = await jwtVerify(a, es.publicKey, { algorithms: ['ES256'], typ: 'at+jwt' });
    const vb = await jwtVerify(b, ed.publicKey, { algorithms: ['EdDSA'], typ: 'at+jwt' });
    expect(va.payload).toEqual(payload);
    expect(vb.payload).toEqual(payload);
    expect(decodeProtectedHeader(a)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' });
    expect(Buffer.from(a.split('.')[2]!, 'base64url')).toHaveLength(64);
  });

  it('answers every signature of a burst in order, each with its own payload', async () => {
    const t = thread();
    const jws = await Promise.all(Array.from({ length: 300 }, (_, i) => t.sign(es.privateKey, true, header('ES256', 'k'), JSON.stringify({ i }))));
    const seen = await Promise.all(jws.map(async (j) => (await jwtVerify(j, es.publicKey)).payload.i));
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it('refuses one signature that cannot be made without failing the others of its batch', async () => {
    const t = thread();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const good = t.sign(es.privateKey, true, header('ES256', 'k'), '{"a":1}');
    // A public key cannot sign: the thread answers that job with its error.
    const bad = t.sign(createPublicKey(es.privateKey), true, header('ES256', 'k'), '{"a":2}');
    const alsoGood = t.sign(ed.privateKey, false, header('EdDSA', 'k'), '{"a":3}');
    const wrongType = t.sign(rsa.privateKey, false, header('EdDSA', 'k'), '{"a":4}');
    const wrongCurve = t.sign(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, true, header('ES256', 'k'), '{"a":5}');
    const swapped = t.sign(ed.privateKey, true, header('ES256', 'k'), '{"a":6}');
    await expect(bad).rejects.toThrow(/signing failed/);
    await expect(good).resolves.toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    await expect(alsoGood).resolves.toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    // A key of another type is refused, never used with the scheme node would pick for it.
    await expect(wrongType).rejects.toThrow(/does not match the algorithm/);
    await expect(wrongCurve).rejects.toThrow(/does not match the algorithm/);
    await expect(swapped).rejects.toThrow(/does not match the algorithm/);
  });

  it('refuses what a stopped thread had and signs again on a new one, keys sent again', async () => {
    const t = thread();
    await t.sign(es.privateKey, true, header('ES256', 'k'), '{}');
    const pending = t.sign(es.privateKey, true, header('ES256', 'k'), '{"late":true}');
    await new Promise((resolve) => setImmediate(resolve)); // the batch is on its way
    await t.close();
    await expect(pending).rejects.toThrow(/signing thread/);
    const again = await t.sign(es.privateKey, true, header('ES256', 'k'), '{"again":true}');
    expect((await jwtVerify(again, es.publicKey)).payload).toEqual({ again: true });
  });

  it('keeps no process alive once its signatures are answered', () => {
    // A script that signs once and then has nothing left to do must exit on its own.
    const jws = fileURLToPath(new URL('../../src/signing/jws.ts', import.meta.url));
    const script = `
      import { generateKeyPairSync } from 'node:crypto';
      import { signJwt } from ${JSON.stringify(jws)};
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      signJwt({ alg: 'ES256', kid: 'k' }, { sub: 'x' }, privateKey).then((t) => console.log(t.split('.').length));
    `;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe('3');
  });
});

describe('signJwt', () => {
  it('signs on the process-wide thread: header as given, claims verified by jose', async () => {
    const token = await signJwt({ alg: 'ES256', typ: 'at+jwt', kid: 'kid-1' }, { sub: 'prn_1', iat: 1, exp: 4_102_444_800 }, es.privateKey);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: 'kid-1' });
    expect((await jwtVerify(token, es.publicKey, { algorithms: ['ES256'] })).payload).toEqual({ sub: 'prn_1', iat: 1, exp: 4_102_444_800 });
  });
});
