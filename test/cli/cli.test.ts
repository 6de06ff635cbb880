import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cli(args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const previous = process.exitCode;
  process.exitCode = undefined;
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t), env, stdin: async () => stdin });
  process.exitCode = previous;
  return { code, out: out.join('\n'), err: err.join('\n') };
}

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
