import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { systemContext } from '../../src/core/context.js';
import { generateSecret } from '../../src/core/secret.js';
import { OAUTH_PATHS } from '../../src/oauth/discovery.js';
import { createLogger } from '../../src/runtime/logger.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';

/**
 * Routes anyone may call. Every other route fastify registers is an admin route and goes through
 * the whole matrix below: a new route is covered without anyone listing it, and a new public
 * route fails here until it is listed.
 */
const PUBLIC = new Set([
  'GET /healthz',
  'GET /readyz',
  'POST /v1/keys/verify',
  `POST ${OAUTH_PATHS.token}`,
  `POST ${OAUTH_PATHS.introspection}`,
  `POST ${OAUTH_PATHS.revocation}`,
  `GET ${OAUTH_PATHS.jwks}`,
  'GET /.well-known/oauth-authorization-server',
  'GET /.well-known/openid-configuration',
  'POST /v1/leaks/report',
  'POST /v1/leaks/github',
  // Authenticated by the key it rotates, not an admin key: test/rotation/self-rotate.security.test.ts.
  'POST /v1/keys/self/rotate',
  // Authenticated by the client's own secret (client_secret_basic): test/rotation/bad-input.error.test.ts.
  'POST /v1/clients/self/rotate-secret',
]);

/**
 * Bodies that would change something if a route let a request through (a stronger check than an
 * empty body, which would only fail validation). Routes not named here get `{}`.
 */
const BODIES: Readonly<Record<string, unknown>> = {
  'POST /v1/keys': { owner: 'bootstrap-admin', name: 'x' },
  'POST /v1/principals': { kind: 'service', name: 'intruder' },
  'POST /v1/clients': { name: 'intruder-client' },
  'PATCH /v1/clients/:id': { scopes: ['admin'] },
  'POST /v1/leaks/watches': { source: '/', every: '1h' },
  'POST /v1/leaks/findings': { findings: [] },
};

/** Path parameters: an existing principal where a route would act on one (`app`), a made-up id elsewhere. */
const concrete = (url: string) => url.replace('/v1/principals/:id', '/v1/principals/app').replace(/:id\b/g, 'x_missing');

/**
 * The server the matrix runs against, started while the file is collected: the routes it
 * registered name the tests, one per admin route and credential.
 */
const dir = mkdtempSync(join(tmpdir(), 'keyturn-sec-'));
const logs: string[] = [];
const registered: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    logs.push(String(chunk));
    done();
  },
});
// Every route × every bad credential from one address: far past the admin API's failure limit, which is not what this matrix is about.
const server: RunningServer = await startServer(loadConfig({ flags: { dataDir: dir, port: 0, logLevel: 'trace', logRequests: true, failedAdminAuthRate: 100_000 } }), {
  logger: createLogger('trace', sink),
  http: { onRoute: ({ method, url }) => void registered.push(`${method} ${url}`) },
});

/**
 * Routes that need a scope other than `admin` (and go through the same matrix): the change stream
 * names key ids as they change, so only a verifier's key (scope `verify`) may follow it.
 */
const SCOPE_OF: Readonly<Record<string, string>> = { 'GET /v1/keys/changes': 'verify', 'HEAD /v1/keys/changes': 'verify' };

/** Admin routes as fastify registered them (HEAD twins of GET routes included). */
const ADMIN_ROUTES = registered.filter((route) => !PUBLIC.has(route.replace(/^HEAD /, 'GET ')));

describe('admin API: authentication matrix over every registered route', () => {
  let admin: string;
  const creds: Record<string, string> = {};

  beforeAll(async () => {
    admin = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
    const call = async (method: string, path: string, body?: unknown) =>
      (await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<any>;
    await call('POST', '/v1/principals', { kind: 'service', name: 'app' });
    creds.reader = (await call('POST', '/v1/keys', { owner: 'app', name: 'reader', scopes: ['read'] })).key;
    const revoked = await call('POST', '/v1/keys', { owner: 'app', name: 'gone', scopes: ['admin'] });
    await call('POST', `/v1/keys/${revoked.id}/revoke`, {});
    creds.revokedAdmin = revoked.key;
    creds.revokedAdminId = revoked.id;
    const suspended = await call('POST', '/v1/keys', { owner: 'app', name: 'quarantined', scopes: ['admin'] });
    await call('POST', `/v1/keys/${suspended.id}/suspend`, {});
    creds.suspendedAdmin = suspended.key;
    creds.suspendedAdminId = suspended.id;
    // Well-formed, right checksum, never issued.
    creds.forgedAdmin = generateSecret('kt_live', systemContext);
    creds.brokenAdmin = admin.slice(0, -7) + (admin.at(-7) === 'A' ? 'B' : 'A') + admin.slice(-6);
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = (route: string, authorization?: string) => {
    const [method, url] = route.split(' ') as [string, string];
    const body = /^(GET|HEAD|DELETE) /.test(route) ? undefined : (BODIES[route] ?? {});
    return fetch(`${server.url}${concrete(url)}`, {
      method,
      headers: { ...(authorization ? { authorization } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  };

  it('finds the admin routes fastify registered, the ones a hand-written list used to miss included', () => {
    for (const route of [
      'POST /v1/keys/:id/suspend',
      'POST /v1/keys/:id/unsuspend',
      'POST /v1/leaks/findings',
      'GET /v1/leaks/findings',
      'GET /v1/leaks/findings/:id',
      'POST /v1/leaks/watches',
      'GET /v1/leaks/watches',
      'GET /v1/leaks/watches/:id',
      'POST /v1/leaks/watches/:id/run',
      'DELETE /v1/leaks/watches/:id',
      'POST /v1/grants/:id/revoke',
      'POST /v1/signing-keys/rotate',
    ]) {
      expect(ADMIN_ROUTES).toContain(route);
    }
    expect(ADMIN_ROUTES.length).toBeGreaterThanOrEqual(30);
    for (const route of Object.keys(BODIES)) expect(registered).toContain(route);
    for (const route of PUBLIC) expect(registered).toContain(route);
  });

  describe.each(ADMIN_ROUTES)('%s', (route) => {
    const head = route.startsWith('HEAD ');

    it('without credentials: 401 and a bare Bearer challenge', async () => {
      const res = await send(route);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="keyturn"');
      if (!head) expect(await res.json()).toMatchObject({ code: 'ERR_UNAUTHENTICATED' });
    });

    it('with another scheme (Basic): no Bearer credentials, the same bare challenge', async () => {
      const res = await send(route, 'Basic YWRtaW46YWRtaW4=');
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="keyturn"');
      if (!head) expect(await res.json()).toMatchObject({ code: 'ERR_UNAUTHENTICATED' });
    });

    it.each([
      ['a malformed Bearer header', () => 'Bearer a b'],
      ['a checksum-broken key', () => `Bearer ${creds.brokenAdmin}`],
      ['a forged key (well-formed, never issued)', () => `Bearer ${creds.forgedAdmin}`],
    ])('with %s: 401 invalid_token', async (_label, auth) => {
      const res = await send(route, auth());
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="keyturn", error="invalid_token", error_description="[^"]+"$/);
      if (!head) expect(await res.json()).toMatchObject({ error: 'invalid_token', code: 'ERR_INVALID_TOKEN' });
    });

    // The holder of a refused admin key learns its state and id (first run #10 item 1): the
    // operator locked out by a leak response is told what happened, not "invalid token".
    it.each([
      ['a revoked admin key', 'revokedAdmin', 'ERR_KEY_REVOKED', 'revoked'],
      ['a suspended admin key', 'suspendedAdmin', 'ERR_KEY_SUSPENDED', 'suspended'],
    ])('with %s: 401 invalid_token saying so, with the key id', async (_label, which, code, state) => {
      const res = await send(route, `Bearer ${creds[which]}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="keyturn", error="invalid_token", error_description="[^"]+"$/);
      if (!head) {
        const body = (await res.json()) as { error: string; code: string; error_description: string };
        expect(body).toMatchObject({ error: 'invalid_token', code });
        expect(body.error_description).toContain(`key ${creds[`${which}Id`]} is ${state}`);
        expect(body.error_description).toContain('keyturn admin recover');
      }
    });

    it(`with a valid key lacking scope ${SCOPE_OF[route] ?? 'admin'}: 403 insufficient_scope`, async () => {
      const res = await send(route, `Bearer ${creds.reader}`);
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      expect(res.headers.get('www-authenticate')).toContain(`scope="${SCOPE_OF[route] ?? 'admin'}"`);
    });
  });

  it('changed nothing through any rejected request, and recorded each failed admin authentication', async () => {
    const principals = await server.kt.store.all<{ name: string; status: string }>('SELECT name, status FROM principals ORDER BY name');
    expect(principals).toEqual([
      { name: 'app', status: 'active' },
      { name: 'bootstrap-admin', status: 'active' },
    ]);
    expect(await server.kt.store.all('SELECT id FROM oauth_clients')).toEqual([]);
    expect(await server.kt.store.all("SELECT kid FROM signing_keys WHERE status = 'retired'")).toEqual([]);
    expect(await server.kt.store.all('SELECT id FROM leak_watches')).toEqual([]);
    expect(await server.kt.store.all<{ name: string; status: string }>("SELECT name, status FROM api_keys WHERE name <> 'bootstrap admin key' ORDER BY name")).toEqual([
      { name: 'gone', status: 'revoked' },
      { name: 'quarantined', status: 'suspended' },
      { name: 'reader', status: 'active' },
    ]);
    // No credentials, another scheme and a malformed header are refused before any key is
    // presented; the four keys reach verification and each failure is recorded: the first of each
    // kind in full, the rest counted into its summary (written when the window closes, or now).
    await server.kt.failures.flush(true);
    const recorded = await server.kt.store.all<{ reason: string }>("SELECT reason FROM events WHERE type = 'admin.auth_failed'");
    const summaries = await server.kt.store.all<{ reason: string; data: string }>("SELECT reason, data FROM events WHERE type = 'audit.failures_summarized'");
    const counts: Record<string, number> = {};
    for (const e of recorded) counts[e.reason] = (counts[e.reason] ?? 0) + 1;
    for (const e of summaries) {
      const data = JSON.parse(e.data) as { of: string; count: number };
      if (data.of === 'admin.auth_failed') counts[e.reason] = (counts[e.reason] ?? 0) + data.count;
    }
    const n = ADMIN_ROUTES.length;
    expect(counts).toEqual({ malformed: n, unknown: n, revoked: n, suspended: n });
    expect(recorded.length).toBe(4); // one group per reason (and key) from this one address
  });

  it('never writes a secret to the log, even at trace level with request logging on', () => {
    const all = logs.join('');
    expect(all.length).toBeGreaterThan(0);
    for (const secret of [admin, creds.reader!, creds.revokedAdmin!, creds.suspendedAdmin!, creds.forgedAdmin!]) expect(all).not.toContain(secret.slice(8));
  });
});
