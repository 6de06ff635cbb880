import { generateKeyPairSync, randomBytes, sign as nodeSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { accessTokenHash, checkDpopProof, DpopNonces, normalizeHtu, type DpopRequest } from '../../src/binding/dpop.js';

/** RFC 9449's own examples (source named in the file). */
const RFC = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'vectors', 'rfc9449.json'), 'utf8')) as {
  jwk: JWK;
  jkt: string;
  tokenRequest: { proof: string; method: string; url: string; iat: number; jti: string };
  resourceRequest: { proof: string; method: string; url: string; iat: number; jti: string; accessToken: string; ath: string };
};

describe('RFC 9449 examples', () => {
  it('accepts the token request proof of §4.1 and computes the jkt of §6.1', async () => {
    const { proof, method, url, iat, jti } = RFC.tokenRequest;
    const r = await checkDpopProof({ proofs: [proof], method, url }, { now: iat * 1000 });
    expect(r).toMatchObject({ valid: true, jkt: RFC.jkt, jti, iat });
  });

  it('accepts the protected resource proof of §7.1 with its access token, and its ath is the RFC value', async () => {
    const { proof, method, url, iat, accessToken, ath } = RFC.resourceRequest;
    expect(accessTokenHash(accessToken)).toBe(ath);
    const r = await checkDpopProof({ proofs: [proof], method, url, accessToken, boundJkt: RFC.jkt }, { now: iat * 1000 + 2_000 });
    expect(r).toMatchObject({ valid: true, jkt: RFC.jkt });
  });

  it('refuses the same proofs out of their window, for another method, URI, token or key', async () => {
    const t = RFC.tokenRequest;
    const r = RFC.resourceRequest;
    const at = { now: r.iat * 1000 };
    expect(await checkDpopProof({ proofs: [t.proof], method: t.method, url: t.url }, { now: (t.iat + 3600) * 1000 })).toMatchObject({ reason: 'iat' });
    expect(await checkDpopProof({ proofs: [t.proof], method: 'GET', url: t.url }, { now: t.iat * 1000 })).toMatchObject({ reason: 'htm' });
    expect(await checkDpopProof({ proofs: [t.proof], method: t.method, url: 'https://server.example.com/other' }, { now: t.iat * 1000 })).toMatchObject({ reason: 'htu' });
    expect(await checkDpopProof({ proofs: [r.proof], method: r.method, url: r.url, accessToken: `${r.accessToken}x` }, at)).toMatchObject({ reason: 'ath' });
    expect(await checkDpopProof({ proofs: [r.proof], method: r.method, url: r.url, accessToken: r.accessToken, boundJkt: 'another-thumbprint-of-43-characters-abcdefg' }, at)).toMatchObject({
      reason: 'key_mismatch',
    });
  });
});

const NOW = Date.parse('2026-12-04T12:00:00Z');
const URL_TOKEN = 'https://keyturn.example/oauth/token';

function keyPair(kind: 'ec' | 'ed25519' = 'ec') {
  return kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
}

async function proof(
  options: {
    alg?: string;
    kind?: 'ec' | 'ed25519';
    typ?: string;
    jwk?: JWK;
    claims?: Record<string, unknown>;
    signWith?: ReturnType<typeof keyPair>['privateKey'];
  } = {},
): Promise<string> {
  const pair = keyPair(options.kind);
  const jwk = options.jwk ?? (await exportJWK(pair.publicKey));
  const claims = { jti: randomBytes(12).toString('base64url'), htm: 'POST', htu: URL_TOKEN, iat: Math.floor(NOW / 1000), ...options.claims };
  return new SignJWT(claims)
    .setProtectedHeader({ typ: options.typ ?? 'dpop+jwt', alg: options.alg ?? (options.kind === 'ed25519' ? 'EdDSA' : 'ES256'), jwk })
    .sign(options.signWith ?? pair.privateKey);
}

const token = (proofs: string[], over: Partial<DpopRequest> = {}): DpopRequest => ({ proofs, method: 'POST', url: URL_TOKEN, ...over });

describe('checkDpopProof: §4.3 and §11 attacks', () => {
  it.each(['ec', 'ed25519'] as const)('accepts a fresh %s proof', async (kind) => {
    expect(await checkDpopProof(token([await proof({ kind })]), { now: NOW })).toMatchObject({ valid: true, jkt: expect.stringMatching(/^[\w-]{43}$/) });
  });

  it('accepts the fully-specified Ed25519 algorithm identifier', async () => {
    expect(await checkDpopProof(token([await proof({ kind: 'ed25519', alg: 'Ed25519' })]), { now: NOW })).toMatchObject({ valid: true });
  });

  it('no proof, two proofs, garbage', async () => {
    expect(await checkDpopProof(token([]), { now: NOW })).toMatchObject({ valid: false, error: 'invalid_dpop_proof', reason: 'missing' });
    const p = await proof();
    expect(await checkDpopProof(token([p, p]), { now: NOW })).toMatchObject({ reason: 'multiple' });
    expect(await checkDpopProof(token(['not.a.jwt!']), { now: NOW })).toMatchObject({ reason: 'malformed' });
    expect(await checkDpopProof(token([`${p}.extra`]), { now: NOW })).toMatchObject({ reason: 'malformed' });
    expect(await checkDpopProof(token(['a'.repeat(9000)]), { now: NOW })).toMatchObject({ reason: 'malformed' });
  });

  it('wrong typ', async () => {
    expect(await checkDpopProof(token([await proof({ typ: 'JWT' })]), { now: NOW })).toMatchObject({ reason: 'type' });
  });

  it('alg none, HS256 and algorithms outside the allow-list', async () => {
    const header = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
    const body = Buffer.from(JSON.stringify({ jti: 'x', htm: 'POST', htu: URL_TOKEN, iat: NOW / 1000 })).toString('base64url');
    const jwk = await exportJWK(keyPair().publicKey);
    expect(await checkDpopProof(token([`${header({ typ: 'dpop+jwt', alg: 'none', jwk })}.${body}.sig`]), { now: NOW })).toMatchObject({ reason: 'algorithm' });
    const secret = randomBytes(32);
    const hs = await new SignJWT({ jti: 'x', htm: 'POST', htu: URL_TOKEN, iat: NOW / 1000 })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: secret.toString('base64url') } as JWK })
      .sign(secret);
    expect(await checkDpopProof(token([hs]), { now: NOW })).toMatchObject({ reason: 'algorithm' });
    expect(await checkDpopProof(token([hs]), { now: NOW, algorithms: ['HS256', 'ES256'] })).toMatchObject({ reason: 'algorithm' });
    expect(await checkDpopProof(token([await proof()]), { now: NOW, algorithms: ['EdDSA'] })).toMatchObject({ reason: 'algorithm' });
  });

  it('a private key in jwk, or no jwk', async () => {
    const pair = keyPair();
    const priv = await exportJWK(pair.privateKey);
    expect(await checkDpopProof(token([await proof({ jwk: priv, signWith: pair.privateKey })]), { now: NOW })).toMatchObject({ reason: 'jwk' });
    const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256' })).toString('base64url');
    expect(await checkDpopProof(token([`${header}.e30.sig`]), { now: NOW })).toMatchObject({ reason: 'jwk' });
  });

  it('a proof signed by a key other than its jwk (a foreign signer)', async () => {
    const mine = keyPair();
    const other = keyPair();
    expect(await checkDpopProof(token([await proof({ jwk: await exportJWK(mine.publicKey), signWith: other.privateKey })]), { now: NOW })).toMatchObject({
      reason: 'signature',
    });
  });

  it('missing or mistyped claims', async () => {
    for (const claims of [{ jti: undefined }, { htm: 7 }, { htu: undefined }, { iat: '1' }, { jti: '' }]) {
      expect(await checkDpopProof(token([await proof({ claims })]), { now: NOW }), JSON.stringify(claims)).toMatchObject({ reason: 'claims' });
    }
  });

  it('wrong htm and htu; htu compared after RFC 3986 normalisation, without query or fragment', async () => {
    expect(await checkDpopProof(token([await proof({ claims: { htm: 'GET' } })]), { now: NOW })).toMatchObject({ reason: 'htm' });
    expect(await checkDpopProof(token([await proof({ claims: { htu: 'https://evil.example/oauth/token' } })]), { now: NOW })).toMatchObject({ reason: 'htu' });
    expect(await checkDpopProof(token([await proof({ claims: { htu: 'http://keyturn.example/oauth/token' } })]), { now: NOW })).toMatchObject({ reason: 'htu' });
    expect(await checkDpopProof(token([await proof({ claims: { htu: 'HTTPS://KEYTURN.example:443/oauth/./%74oken?x=1#f' } })]), { now: NOW })).toMatchObject({ valid: true });
  });

  it('stale and future iat', async () => {
    expect(await checkDpopProof(token([await proof({ claims: { iat: NOW / 1000 - 120 } })]), { now: NOW })).toMatchObject({ reason: 'iat' });
    expect(await checkDpopProof(token([await proof({ claims: { iat: NOW / 1000 + 60 } })]), { now: NOW })).toMatchObject({ reason: 'iat' });
    expect(await checkDpopProof(token([await proof({ claims: { iat: NOW / 1000 - 50 } })]), { now: NOW })).toMatchObject({ valid: true });
  });

  it('ath missing or for another token; a token bound to another key (stolen token, own proof)', async () => {
    const at = 'eyJhbGciOiJFUzI1NiJ9.payload.sig';
    const good = await proof({ claims: { ath: accessTokenHash(at), htm: 'GET', htu: 'https://api.example/r' } });
    const get = (p: string, over: Partial<DpopRequest> = {}) => ({ proofs: [p], method: 'GET', url: 'https://api.example/r', accessToken: at, ...over });
    const accepted = await checkDpopProof(get(good), { now: NOW });
    expect(accepted).toMatchObject({ valid: true });
    const jkt = (accepted as { jkt: string }).jkt;
    expect(await checkDpopProof(get(good, { boundJkt: jkt }), { now: NOW })).toMatchObject({ valid: true });
    expect(await checkDpopProof(get(await proof({ claims: { htm: 'GET', htu: 'https://api.example/r' } })), { now: NOW })).toMatchObject({ reason: 'ath' });
    expect(await checkDpopProof(get(good, { accessToken: `${at}2` }), { now: NOW })).toMatchObject({ reason: 'ath' });
    const thief = await proof({ claims: { ath: accessTokenHash(at), htm: 'GET', htu: 'https://api.example/r' } });
    expect(await checkDpopProof(get(thief, { boundJkt: jkt }), { now: NOW })).toMatchObject({ reason: 'key_mismatch' });
  });

  it('nonces: none or a stale one asks for use_dpop_nonce; the current and previous windows pass', async () => {
    let now = NOW;
    const nonces = new DpopNonces(randomBytes(32), { periodMs: 300_000, now: () => now });
    const policy = () => ({ now, nonce: (n: string | undefined) => nonces.accepts(n) });
    expect(await checkDpopProof(token([await proof()]), policy())).toMatchObject({ valid: false, error: 'use_dpop_nonce', reason: 'nonce' });
    const nonce = nonces.current();
    expect(await checkDpopProof(token([await proof({ claims: { nonce } })]), policy())).toMatchObject({ valid: true });
    now += 300_000;
    expect(nonces.accepts(nonce)).toBe(true);
    now += 300_000;
    expect(nonces.accepts(nonce)).toBe(false);
    const another = new DpopNonces(randomBytes(32), { now: () => now });
    expect(nonces.accepts(another.current())).toBe(false);
    expect(nonces.accepts('x')).toBe(false);
    expect(() => new DpopNonces(randomBytes(16), { now: () => now })).toThrow(/at least 32 bytes/);
  });

  it('two nodes sharing the secret accept each other\u2019s nonces', () => {
    const secret = randomBytes(32);
    const a = new DpopNonces(secret, { now: () => NOW });
    const b = new DpopNonces(Buffer.from(secret), { now: () => NOW + 1000 });
    expect(b.accepts(a.current())).toBe(true);
  });

  it('says how long to remember the jti', async () => {
    const r = await checkDpopProof(token([await proof()]), { now: NOW, maxAgeSec: 60, maxSkewSec: 5 });
    expect(r).toMatchObject({ valid: true, replayUntil: NOW + 65_000 });
  });
});

describe('checkDpopProof: every allow-listed algorithm, each with the key type it needs', () => {
  const sign = (alg: string, privateKey: KeyObject, jwk: JWK, claims: Record<string, unknown> = {}) =>
    new SignJWT({ jti: randomBytes(12).toString('base64url'), htm: 'POST', htu: URL_TOKEN, iat: Math.floor(NOW / 1000), ...claims })
      .setProtectedHeader({ typ: 'dpop+jwt', alg, jwk })
      .sign(privateKey);
  const pairs = {
    'P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    'P-384': generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    'P-521': generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    ed25519: generateKeyPairSync('ed25519'),
    rsa2048: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  };
  const cases: readonly [string, keyof typeof pairs][] = [
    ['ES256', 'P-256'],
    ['ES384', 'P-384'],
    ['ES512', 'P-521'],
    ['EdDSA', 'ed25519'],
    ['Ed25519', 'ed25519'],
    ['PS256', 'rsa2048'],
    ['PS384', 'rsa2048'],
    ['PS512', 'rsa2048'],
    ['RS256', 'rsa2048'],
    ['RS384', 'rsa2048'],
    ['RS512', 'rsa2048'],
  ];

  it.each(cases)('%s with a %s key: accepted, with the RFC 7638 thumbprint jose computes; a flipped signature bit is refused', async (alg, kind) => {
    const pair = pairs[kind];
    const jwk = await exportJWK(pair.publicKey);
    const good = await sign(alg, pair.privateKey, jwk);
    expect(await checkDpopProof(token([good]), { now: NOW })).toMatchObject({ valid: true, jkt: await calculateJwkThumbprint(jwk, 'sha256') });
    const [h, p, sig] = good.split('.') as [string, string, string];
    const bytes = Buffer.from(sig, 'base64url');
    bytes[5]! ^= 1;
    expect(await checkDpopProof(token([`${h}.${p}.${bytes.toString('base64url')}`]), { now: NOW })).toMatchObject({ reason: 'signature' });
    // The same header (now cached) with a payload it did not sign.
    const forged = Buffer.from(JSON.stringify({ jti: 'forged', htm: 'POST', htu: URL_TOKEN, iat: Math.floor(NOW / 1000) })).toString('base64url');
    expect(await checkDpopProof(token([`${h}.${forged}.${sig}`]), { now: NOW })).toMatchObject({ reason: 'signature' });
  });

  it('an algorithm whose key type the jwk does not have, an EC key on another curve, a short RSA key: refused (jwk)', async () => {
    const ec = pairs['P-256'];
    const ed = pairs.ed25519;
    // alg ES256 over an Ed25519 key, EdDSA over an EC key, ES384 over a P-256 key, RS256 over an EC key.
    expect(await checkDpopProof(token([await sign('ES256', ec.privateKey, await exportJWK(ec.publicKey))]), { now: NOW, algorithms: ['ES384', 'ES256'] })).toMatchObject({ valid: true });
    const ecJwk = await exportJWK(ec.publicKey);
    const header = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
    const body = Buffer.from(JSON.stringify({ jti: 'x', htm: 'POST', htu: URL_TOKEN, iat: NOW / 1000 })).toString('base64url');
    for (const alg of ['EdDSA', 'ES384', 'RS256', 'PS256']) {
      expect(await checkDpopProof(token([`${header({ typ: 'dpop+jwt', alg, jwk: ecJwk })}.${body}.c2ln`]), { now: NOW }), alg).toMatchObject({ reason: 'jwk' });
    }
    const edJwk = await exportJWK(ed.publicKey);
    for (const alg of ['ES256', 'RS256']) {
      expect(await checkDpopProof(token([`${header({ typ: 'dpop+jwt', alg, jwk: edJwk })}.${body}.c2ln`]), { now: NOW }), alg).toMatchObject({ reason: 'jwk' });
    }
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 });
    // jose will not sign with it: sign by hand.
    const input = `${header({ typ: 'dpop+jwt', alg: 'RS256', jwk: await exportJWK(short.publicKey) })}.${body}`;
    const shortProof = `${input}.${nodeSign('sha256', Buffer.from(input), short.privateKey).toString('base64url')}`;
    expect(await checkDpopProof(token([shortProof]), { now: NOW })).toMatchObject({ reason: 'jwk' });
    // An X25519 key is not a signing key; an EC point off its curve does not import.
    const x = generateKeyPairSync('x25519');
    expect(await checkDpopProof(token([`${header({ typ: 'dpop+jwt', alg: 'EdDSA', jwk: await exportJWK(x.publicKey) })}.${body}.c2ln`]), { now: NOW })).toMatchObject({ reason: 'jwk' });
    const offCurve = { ...ecJwk, y: Buffer.alloc(32, 7).toString('base64url') };
    expect(await checkDpopProof(token([`${header({ typ: 'dpop+jwt', alg: 'ES256', jwk: offCurve })}.${body}.c2ln`]), { now: NOW })).toMatchObject({ reason: 'jwk' });
  });

  it('a header with crit, a header or payload that is not a JSON object, an expired or not-yet-valid proof: refused', async () => {
    const pair = pairs['P-256'];
    const jwk = await exportJWK(pair.publicKey);
    // jose refuses to sign with an unknown crit: build such proofs by hand.
    const hand = async (h: object, payload: string) => {
      const input = `${Buffer.from(JSON.stringify(h)).toString('base64url')}.${payload}`;
      return `${input}.${nodeSign('sha256', Buffer.from(input), { key: pair.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    const claims = (c: object) => Buffer.from(JSON.stringify(c)).toString('base64url');
    const base = { jti: 'x', htm: 'POST', htu: URL_TOKEN, iat: Math.floor(NOW / 1000) };
    expect(await checkDpopProof(token([await hand({ typ: 'dpop+jwt', alg: 'ES256', jwk, crit: ['b64'], b64: false }, claims(base))]), { now: NOW })).toMatchObject({ reason: 'malformed' });
    expect(await checkDpopProof(token([await hand({ typ: 'dpop+jwt', alg: 'ES256', jwk }, Buffer.from('[1]').toString('base64url'))]), { now: NOW })).toMatchObject({ reason: 'claims' });
    expect(await checkDpopProof(token([`${Buffer.from('[1]').toString('base64url')}.${claims(base)}.c2ln`]), { now: NOW })).toMatchObject({ reason: 'malformed' });
    expect(await checkDpopProof(token([await hand({ typ: 'dpop+jwt', alg: 'ES256', jwk }, claims({ ...base, exp: NOW / 1000 - 1 }))]), { now: NOW })).toMatchObject({ reason: 'claims' });
    expect(await checkDpopProof(token([await hand({ typ: 'dpop+jwt', alg: 'ES256', jwk }, claims({ ...base, nbf: NOW / 1000 + 30 }))]), { now: NOW })).toMatchObject({ reason: 'claims' });
    expect(await checkDpopProof(token([await hand({ typ: 'dpop+jwt', alg: 'ES256', jwk }, claims({ ...base, exp: NOW / 1000 + 30 }))]), { now: NOW })).toMatchObject({ valid: true });
  });

  it('the allow-list is the policy\u2019s on every call, though the header is read once', async () => {
    const pair = pairs.ed25519;
    const p = await sign('EdDSA', pair.privateKey, await exportJWK(pair.publicKey));
    expect(await checkDpopProof(token([p]), { now: NOW })).toMatchObject({ valid: true });
    expect(await checkDpopProof(token([p]), { now: NOW, algorithms: ['ES256'] })).toMatchObject({ reason: 'algorithm' });
    expect(await checkDpopProof(token([p]), { now: NOW, algorithms: ['Ed25519'] })).toMatchObject({ reason: 'algorithm' });
    expect(await checkDpopProof(token([p]), { now: NOW, algorithms: ['EdDSA'] })).toMatchObject({ valid: true });
  });
});

describe('normalizeHtu', () => {
  it.each([
    ['https://Server.Example.com/token', 'https://server.example.com/token'],
    ['https://server.example.com:443/token?q=1#frag', 'https://server.example.com/token'],
    ['http://server.example.com:80', 'http://server.example.com/'],
    ['https://server.example.com:8443/a/b/../c', 'https://server.example.com:8443/a/c'],
    ['https://server.example.com/%7euser/%2f', 'https://server.example.com/~user/%2F'],
    ['ftp://server.example.com/x', undefined],
    ['not a uri', undefined],
  ])('%s → %s', (input, output) => {
    expect(normalizeHtu(input)).toBe(output);
  });
});
