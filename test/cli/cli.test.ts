import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('keyturn CLI against a running server', () => {
  let kt: TestServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    kt = await startTestServer();
    // The token comes from <data dir>/admin.key, as for a local user.
    env = { KEYTURN_URL: kt.url, KEYTURN_DATA_DIR: kt.dataDir };
  });
  afterAll(async () => kt.stop());

  it('creates principals and keys, lists, shows, verifies and revokes them', async () => {
    const p = await cli(['principals', 'create', '--kind', 'service', '--name', 'billing', '--json'], env);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.out)).toMatchObject({ kind: 'service', name: 'billing' });

    const created = await cli(['keys', 'create', '--owner', 'billing', '--name', 'ci', '--scopes', 'read, write', '--expires-in', '30d', '--json'], env);
    expect(created.code).toBe(0);
    const { id, key, scopes, expiresAt } = JSON.parse(created.out);
    expect(id).toMatch(/^key_/);
    expect(key).toMatch(/^kt_live_/);
    expect(scopes).toEqual(['read', 'write']);
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(29.9 * 86_400_000);

    const human = await cli(['keys', 'create', '--owner', 'billing', '--name', 'human'], env);
    expect(human.out.split('\n')[0]).toMatch(/^kt_live_[0-9A-Za-z]{49}$/);
    expect(human.out).toContain('cannot show it again');

    const list = await cli(['keys', 'list', '--owner', 'billing'], env);
    expect(list.out).toMatch(/^ID\s+NAME\s+PRINCIPAL/);
    expect(list.out).toContain(id);
    expect(list.out).not.toContain(key);

    const shown = await cli(['keys', 'show', id, '--json'], env);
    expect(JSON.parse(shown.out)).toMatchObject({ id, name: 'ci', status: 'active' });

    expect(await cli(['keys', 'verify', key], env)).toMatchObject({ code: 0, out: `valid: ${id} scopes=read,write` });
    expect(await cli(['keys', 'verify', '-'], env, `${key}\n`)).toMatchObject({ code: 0 });

    expect(await cli(['keys', 'revoke', id, '--reason', 'rotated by hand'], env)).toMatchObject({ code: 0, out: `revoked ${id}` });
    expect(await cli(['keys', 'verify', key, '--json'], env)).toMatchObject({ code: 1 });
    expect(JSON.parse((await cli(['keys', 'verify', key, '--json'], env)).out)).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });

    const principals = await cli(['principals', 'list', '--kind', 'service', '--json'], env);
    expect(JSON.parse(principals.out).items.map((x: { name: string }) => x.name).sort()).toEqual(['billing', 'bootstrap-admin']);
  });

  it.each([
    [['keys', 'create', '--owner', 'billing'], /required option '--name <name>' not specified/],
    [['keys', 'create', '--owner', 'billing', '--name', 'x', '--expires-in', 'forever'], /invalid duration/],
    [['keys', 'creat'], /unknown command 'creat'.*create/],
    [['keys', 'list', '--bogus'], /unknown option '--bogus'/],
    [['principals', 'create', '--kind', 'robot', '--name', 'r'], /'robot' is invalid/],
    [['serve', '--port', 'abc'], /ERR_CONFIG: configuration: port/],
  ])('%j: one clear line on stderr and a non-zero exit', async (args, message) => {
    const before = await kt.kt.store.all('SELECT id FROM api_keys');
    const run = await cli(args, env);
    expect(run.code).not.toBe(0);
    expect(run.err.split('\n')).toHaveLength(1);
    expect(run.err).toMatch(/^keyturn: /);
    expect(run.err).toMatch(message);
    expect(await kt.kt.store.all('SELECT id FROM api_keys')).toEqual(before);
  });

  it('reports server-side errors with their stable code', async () => {
    expect(await cli(['keys', 'show', 'key_missing'], env)).toMatchObject({ code: 1, err: 'keyturn: ERR_NOT_FOUND: no such key' });
    const bad = await cli(['keys', 'list'], { ...env, KEYTURN_TOKEN: 'kt_live_wrong' });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^keyturn: ERR_INVALID_TOKEN: /);
    const down = await cli(['keys', 'list'], { ...env, KEYTURN_URL: 'http://127.0.0.1:1' });
    expect(down).toMatchObject({ code: 1 });
    expect(down.err).toMatch(/^keyturn: ERR_UPSTREAM: cannot reach keyturn/);
  });
});

describe('keyturn clients and signing-keys', () => {
  let kt: TestServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    kt = await startTestServer();
    env = { KEYTURN_URL: kt.url, KEYTURN_DATA_DIR: kt.dataDir };
  });
  afterAll(async () => kt.stop());

  const token = async (clientId: string, secret: string) =>
    fetch(`${kt.url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });

  it('creates a client whose credentials get tokens, rotates its secret with overlap, disables it', async () => {
    const created = await cli(
      ['clients', 'create', '--name', 'reporting', '--scopes', 'read,write', '--grant-types', 'client_credentials,refresh_token', '--policy', 'banking', '--client-credentials-refresh', '--json'],
      env,
    );
    expect(created.code).toBe(0);
    const { client_id, client_secret, policy, grantTypes } = JSON.parse(created.out);
    expect(client_id).toMatch(/^ktc_/);
    expect(client_secret).toMatch(/^ktcs_[0-9A-Za-z]{49}$/);
    expect(policy).toMatchObject({ name: 'banking', clientCredentialsRefresh: true });
    expect(grantTypes).toEqual(['client_credentials', 'refresh_token']);
    const first = await token(client_id, client_secret);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ token_type: 'Bearer', scope: 'read write', refresh_token: expect.stringMatching(/^ktr_/) });

    const listed = await cli(['clients', 'list'], env);
    expect(listed.out).toContain(client_id);
    expect(listed.out).not.toContain(client_secret);
    expect(JSON.parse((await cli(['clients', 'show', client_id, '--json'], env)).out)).toMatchObject({ clientId: client_id, status: 'active' });

    const rotated = await cli(['clients', 'rotate-secret', client_id, '--grace', '1h', '--json'], env);
    const fresh = JSON.parse(rotated.out).client_secret as string;
    expect(fresh).not.toBe(client_secret);
    expect((await token(client_id, fresh)).status).toBe(200);
    expect((await token(client_id, client_secret)).status).toBe(200); // overlap
    await cli(['clients', 'rotate-secret', client_id, '--grace', '0'], env);
    expect((await token(client_id, fresh)).status).toBe(401);

    expect(await cli(['clients', 'disable', client_id], env)).toMatchObject({ code: 0, out: `disabled ${client_id}` });
    const disabled = await token(client_id, fresh);
    expect(disabled.status).toBe(401);
  });

  it('updates a client: registers it as resource server for an audience, after which it may introspect that audience\'s tokens', async () => {
    const app = JSON.parse((await cli(['clients', 'create', '--name', 'orders-job', '--scopes', 'read', '--audiences', 'https://orders.example.com', '--json'], env)).out);
    const rs = JSON.parse((await cli(['clients', 'create', '--name', 'orders-api', '--json'], env)).out);
    expect(rs.resourceServerFor).toEqual([]);
    const at = ((await (await token(app.client_id, app.client_secret)).json()) as { access_token: string }).access_token;
    const introspect = async () =>
      (await (
        await fetch(`${kt.url}/oauth/introspect`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${rs.client_id}:${rs.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: at }).toString(),
        })
      ).json()) as { active: boolean };
    expect(await introspect()).toEqual({ active: false });
    const updated = await cli(['clients', 'update', rs.client_id, '--resource-server-for', 'https://orders.example.com'], env);
    expect(updated).toMatchObject({ code: 0, out: `updated ${rs.client_id}` });
    expect(JSON.parse((await cli(['clients', 'show', rs.client_id, '--json'], env)).out).resourceServerFor).toEqual(['https://orders.example.com']);
    expect(await introspect()).toMatchObject({ active: true, client_id: app.client_id, aud: 'https://orders.example.com' });
    const nothing = await cli(['clients', 'update', rs.client_id], env);
    expect(nothing.code).toBe(2);
    expect(nothing.err).toMatch(/^keyturn: clients update: give at least one of/);
  });

  it('lists and rotates signing keys', async () => {
    const before = JSON.parse((await cli(['signing-keys', 'list', '--json'], env)).out).items as { kid: string; alg: string; status: string }[];
    const next = before.find((k) => k.alg === 'ES256' && k.status === 'next')!;
    const rotated = await cli(['signing-keys', 'rotate', '--alg', 'ES256'], env);
    expect(rotated).toMatchObject({ code: 0, out: `activated ${next.kid}` });
    const after = await cli(['signing-keys', 'list'], env);
    expect(after.out).toMatch(new RegExp(`${next.kid}\\s+ES256\\s+active`));
    expect(after.out).toMatch(/retired/);
  });

  it('rejects bad client arguments with one line', async () => {
    const bad = await cli(['clients', 'create', '--name', 'x', '--grant-types', 'password'], env);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^keyturn: ERR_VALIDATION: grantTypes/);
    const policy = await cli(['clients', 'create', '--name', 'y', '--policy', 'nope'], env);
    expect(policy.err).toMatch(/^keyturn: ERR_VALIDATION: policy: unknown policy 'nope'/);
    expect((await cli(['signing-keys', 'rotate', '--alg', 'HS256'], env)).code).toBe(2);
  });
});
