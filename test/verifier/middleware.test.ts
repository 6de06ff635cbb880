import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { spawnSync } from 'node:child_process';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/core/context.js';
import { generateSecret } from '../../src/core/secret.js';
import {
  authorize,
  createVerifier,
  expressMiddleware,
  fastifyHook,
  nodeMiddleware,
  withKeyturn,
  type MiddlewareOptions,
  type RefusalReason,
  type VerifiedCredential,
  type Verifier,
} from '../../src/verifier/index.js';
import { accessToken, API_AUDIENCE, createClient, oauthPost, OTHER_AUDIENCE, startFixture, type Fixture } from './support.js';

declare module 'fastify' {
  interface FastifyRequest {
    keyturn?: VerifiedCredential;
  }
}

const WRITE: MiddlewareOptions = { requiredScopes: ['read', 'write'] };
const DESCRIPTION = {
  missing: 'authentication required: send Authorization: Bearer <API key>',
  malformed: 'malformed Authorization header: expected Bearer <API key>',
  invalid: 'the API key is invalid, expired or revoked',
  scope: 'the API key lacks a scope this request needs',
  invalidToken: 'the access token is invalid, expired or revoked',
  scopeToken: 'the access token lacks a scope this request needs',
};

let fx: Fixture;
let verifier: Verifier;
let down: Verifier;
let readKey: { id: string; key: string };
let writeKey: { id: string; key: string };
let revokedKey: { id: string; key: string };
/** Access tokens: JWTs with `read` and `read write`, one for another audience, opaque ones (one revoked). */
const tokens: Record<'jwtRead' | 'jwtWrite' | 'jwtOther' | 'opaqueRead' | 'opaqueWrite' | 'opaqueRevoked', string> = {} as never;
let appId: string;
const servers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  fx = await startFixture();
  const rs = await createClient(fx, { name: 'resource-server', scopes: [], resourceServerFor: [API_AUDIENCE] });
  verifier = createVerifier({ url: fx.url, requiredScopes: ['read'], audience: API_AUDIENCE, introspection: { clientId: rs.id, clientSecret: rs.secret } });
  const app = await createClient(fx);
  const bank = await createClient(fx, { policy: 'banking' });
  appId = app.id;
  tokens.jwtRead = await accessToken(fx, app, { scope: 'read' });
  tokens.jwtWrite = await accessToken(fx, app, { scope: 'read write' });
  tokens.jwtOther = await accessToken(fx, app, { scope: 'read', resource: OTHER_AUDIENCE });
  tokens.opaqueRead = await accessToken(fx, bank, { scope: 'read' });
  tokens.opaqueWrite = await accessToken(fx, bank, { scope: 'read write' });
  tokens.opaqueRevoked = await accessToken(fx, bank, { scope: 'read' });
  await oauthPost(fx, '/oauth/revoke', bank, { token: tokens.opaqueRevoked });
  // Nothing listens on port 1: every check is an outage.
  down = createVerifier({ url: 'http://127.0.0.1:1', stream: false });
  readKey = await fx.createKey({ scopes: ['read'] });
  writeKey = await fx.createKey({ scopes: ['read', 'write'] });
  revokedKey = await fx.createKey({ scopes: ['read'] });
  await fx.revoke(revokedKey.id);
});
afterAll(async () => {
  for (const stop of servers) await stop();
  await verifier.close();
  await down.close();
  await fx.stop();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  servers.push(() => new Promise<void>((ok) => server.close(() => ok())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function listenFastify(app: FastifyInstance): Promise<string> {
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push(() => app.close());
  return url;
}

/** Each framework serves /read (the verifier's default scopes), /write (read+write) and /down (keyturn unreachable). */
const frameworks: Record<string, () => Promise<string>> = {
  'node:http nodeMiddleware': async () => {
    const read = nodeMiddleware(verifier);
    const write = nodeMiddleware(verifier, WRITE);
    const dead = nodeMiddleware(down);
    return listen(
      http.createServer((req, res) => {
        const guard = req.url === '/write' ? write : req.url === '/down' ? dead : read;
        guard(req, res, (err) => {
          if (err) {
            res.statusCode = 500;
            return res.end();
          }
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(req.keyturn));
        });
      }),
    );
  },
  'node:http withKeyturn': async () => {
    const reply = (_req: http.IncomingMessage, res: http.ServerResponse, key: VerifiedCredential) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(key));
    };
    const read = withKeyturn(verifier, reply);
    const write = withKeyturn(verifier, reply, WRITE);
    const dead = withKeyturn(down, reply);
    return listen(http.createServer((req, res) => (req.url === '/write' ? write : req.url === '/down' ? dead : read)(req, res)));
  },
  express: async () => {
    const app = express();
    const send = (req: express.Request, res: express.Response) => res.json(req.keyturn);
    app.get('/read', expressMiddleware(verifier), send);
    app.get('/write', expressMiddleware(verifier, WRITE), send);
    app.get('/down', expressMiddleware(down), send);
    return listen(http.createServer(app));
  },
  fastify: async () => {
    const app = Fastify();
    app.decorateRequest('keyturn', undefined);
    app.get('/read', { onRequest: fastifyHook(verifier) }, async (req) => req.keyturn);
    app.get('/write', { onRequest: fastifyHook(verifier, WRITE) }, async (req) => req.keyturn);
    app.get('/down', { onRequest: fastifyHook(down) }, async (req) => req.keyturn);
    return listenFastify(app);
  },
  'fastify addHook': async () => {
    const app = Fastify();
    app.decorateRequest('keyturn', undefined);
    const scoped = (path: string, v: Verifier, opts?: MiddlewareOptions) =>
      app.register(async (scope) => {
        scope.addHook('onRequest', fastifyHook(v, opts));
        scope.get(path, async (req) => req.keyturn);
      });
    await scoped('/read', verifier);
    await scoped('/write', verifier, WRITE);
    await scoped('/down', down);
    return listenFastify(app);
  },
};

async function get(url: string, authorization?: string) {
  const res = await fetch(url, authorization === undefined ? {} : { headers: { authorization } });
  return { status: res.status, www: res.headers.get('www-authenticate'), cache: res.headers.get('cache-control'), body: (await res.json()) as Record<string, unknown> };
}

describe.each(Object.keys(frameworks))('%s', (name) => {
  let base: string;
  beforeAll(async () => {
    base = await frameworks[name]!();
  });

  it('lets a valid key through and attaches the credential', async () => {
    const res = await get(`${base}/read`, `Bearer ${readKey.key}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ valid: true, kind: 'api_key', keyId: readKey.id, principal: expect.stringMatching(/^prn_/), scopes: ['read'], expiresAt: null });
    expect((await get(`${base}/write`, `bearer ${writeKey.key}`)).status).toBe(200);
  });

  it('401 without an error code when there is no Authorization header (RFC 6750 §3.1)', async () => {
    const res = await get(`${base}/read`);
    expect(res).toEqual({
      status: 401,
      www: 'Bearer realm="keyturn"',
      cache: 'no-store',
      body: { error: 'unauthorized', error_description: DESCRIPTION.missing },
    });
  });

  it('401 without an error code for another scheme', async () => {
    const res = await get(`${base}/read`, 'Basic dXNlcjpwYXNz');
    expect([res.status, res.www]).toEqual([401, 'Bearer realm="keyturn"']);
  });

  it('400 invalid_request for a malformed Bearer header', async () => {
    const res = await get(`${base}/read`, 'Bearer a b');
    expect(res).toEqual({
      status: 400,
      www: `Bearer realm="keyturn", error="invalid_request", error_description="${DESCRIPTION.malformed}"`,
      cache: 'no-store',
      body: { error: 'invalid_request', error_description: DESCRIPTION.malformed },
    });
  });

  it.each([
    ['revoked', () => revokedKey.key],
    ['unknown', () => generateSecret('kt_live', systemContext)],
    ['bad checksum', () => readKey.key.slice(0, -1) + (readKey.key.endsWith('x') ? 'y' : 'x')],
  ])('401 invalid_token for a %s key', async (_what, key) => {
    const res = await get(`${base}/read`, `Bearer ${key()}`);
    expect(res).toEqual({
      status: 401,
      www: `Bearer realm="keyturn", error="invalid_token", error_description="${DESCRIPTION.invalid}"`,
      cache: 'no-store',
      body: { error: 'invalid_token', error_description: DESCRIPTION.invalid },
    });
  });

  it('403 insufficient_scope with the scope needed', async () => {
    const res = await get(`${base}/write`, `Bearer ${readKey.key}`);
    expect(res).toEqual({
      status: 403,
      www: `Bearer realm="keyturn", error="insufficient_scope", error_description="${DESCRIPTION.scope}", scope="read write"`,
      cache: 'no-store',
      body: { error: 'insufficient_scope', error_description: DESCRIPTION.scope, scope: 'read write' },
    });
  });

  it.each(['jwt', 'opaque'] as const)('lets a valid %s access token through and attaches it', async (kind) => {
    const res = await get(`${base}/read`, `Bearer ${kind === 'jwt' ? tokens.jwtRead : tokens.opaqueRead}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ valid: true, kind, scopes: ['read'], principal: expect.stringMatching(/^prn_/) });
    if (kind === 'jwt') expect(res.body.clientId).toBe(appId);
    expect((await get(`${base}/write`, `Bearer ${kind === 'jwt' ? tokens.jwtWrite : tokens.opaqueWrite}`)).status).toBe(200);
  });

  it.each([
    ['JWT for another audience', () => tokens.jwtOther],
    ['tampered JWT', () => tokens.jwtRead.replace(/\.[^.]+\./, `.${Buffer.from('{"sub":"x"}').toString('base64url')}.`)],
    ['revoked opaque token', () => tokens.opaqueRevoked],
  ])('401 invalid_token for a %s', async (_what, token) => {
    const res = await get(`${base}/read`, `Bearer ${token()}`);
    expect(res).toEqual({
      status: 401,
      www: `Bearer realm="keyturn", error="invalid_token", error_description="${DESCRIPTION.invalidToken}"`,
      cache: 'no-store',
      body: { error: 'invalid_token', error_description: DESCRIPTION.invalidToken },
    });
  });

  it.each(['jwt', 'opaque'] as const)('403 insufficient_scope for a %s access token lacking a scope', async (kind) => {
    const res = await get(`${base}/write`, `Bearer ${kind === 'jwt' ? tokens.jwtRead : tokens.opaqueRead}`);
    expect(res).toEqual({
      status: 403,
      www: `Bearer realm="keyturn", error="insufficient_scope", error_description="${DESCRIPTION.scopeToken}", scope="read write"`,
      cache: 'no-store',
      body: { error: 'insufficient_scope', error_description: DESCRIPTION.scopeToken, scope: 'read write' },
    });
  });

  it('503 temporarily_unavailable when keyturn cannot be reached', async () => {
    const res = await get(`${base}/down`, `Bearer ${readKey.key}`);
    expect(res.status).toBe(503);
    expect(res.www).toBeNull();
    expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'credential verification is temporarily unavailable' });
  });
});

describe('middleware options', () => {
  it('prints one debug line per refusal with NODE_DEBUG=keyturn (code and reason, no credential)', () => {
    const script = `
      const { authorize } = await import(${JSON.stringify(new URL('../../dist/verifier/index.js', import.meta.url).href)});
      const verifier = { verifyRequest: async () => ({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'audience' }) };
      await authorize(verifier, { headers: { authorization: 'Bearer secret-token-value' } });`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_DEBUG: 'keyturn' }, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/^KEYTURN \d+: refused: 401 ERR_INVALID_TOKEN \(audience\)$/m);
    expect(run.stderr).not.toContain('secret-token-value');
    const quiet = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_DEBUG: '' }, encoding: 'utf8' });
    expect(quiet.stderr).toBe('');
  });

  it('tells the API server why it refused, and the client nothing more', async () => {
    const heard: RefusalReason[] = [];
    const guard = nodeMiddleware(verifier, { onRefused: (why) => heard.push(why) });
    const base = await listen(http.createServer((req, res) => guard(req, res, () => res.end('{}'))));
    const wrongAudience = await get(`${base}/`, `Bearer ${tokens.jwtOther}`);
    expect(wrongAudience.body).toEqual({ error: 'invalid_token', error_description: DESCRIPTION.invalidToken });
    await get(`${base}/`, `Bearer ${revokedKey.key}`);
    await get(`${base}/`);
    expect(heard).toEqual([
      { status: 401, code: 'ERR_INVALID_TOKEN', reason: 'audience' },
      { status: 401, code: 'ERR_KEY_REVOKED' },
      { status: 401, code: 'ERR_UNAUTHENTICATED' },
    ]);
    const decision = await authorize(verifier, { headers: { authorization: `Bearer ${tokens.jwtOther}` } });
    expect(decision).toMatchObject({ ok: false, status: 401, why: { code: 'ERR_INVALID_TOKEN', reason: 'audience' } });
  });

  it('uses the configured realm', async () => {
    const guard = nodeMiddleware(verifier, { realm: 'orders api' });
    const base = await listen(http.createServer((req, res) => guard(req, res, () => res.end('{}'))));
    expect((await get(`${base}/`)).www).toBe('Bearer realm="orders api"');
  });

  it('refuses a realm that cannot be quoted', () => {
    expect(() => nodeMiddleware(verifier, { realm: 'a"b' })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
  });
});
