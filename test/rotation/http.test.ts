import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOAuthServer, type OAuthServer } from '../oauth/support.js';
import { cli } from '../support/cli.js';

/** The admin API and CLI of rotation against a listening server. */
describe('rotation over HTTP and the CLI', () => {
  let kt: OAuthServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    kt = await startOAuthServer();
    env = { KEYTURN_URL: kt.url, KEYTURN_DATA_DIR: kt.dataDir };
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'billing' });
  });
  afterAll(async () => kt.stop());

  it('keyturn policies create|list|show|update, and bad input as one line', async () => {
    const created = await cli(['policies', 'create', 'payments', '--from', 'banking', '--key-grace', '30m', '--json'], env);
    expect(created.code, created.err).toBe(0);
    expect(JSON.parse(created.out)).toMatchObject({ name: 'payments', version: 1, policy: { keyRotationGrace: 1800, keyRotationInterval: 86_400 } });
    const list = await cli(['policies', 'list'], env);
    expect(list.out).toMatch(/^NAME\s+VERSION/);
    expect(list.out).toMatch(/payments\s+1\s+1d\s+7d\s+30m\s+hard/);
    const updated = await cli(['policies', 'update', 'payments', '--key-rotation-interval', 'never'], env);
    expect(updated.err).toBe('');
    expect(updated.out).toBe('payments is at version 2');
    const shown = await cli(['policies', 'show', 'payments', '--json'], env);
    expect(JSON.parse(shown.out).versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    const weakened = (await kt.api('GET', '/v1/events?type=policy.weakened')).body.items;
    expect(weakened.map((e: { target: string; data: { weakened: string[] } }) => [e.target, e.data.weakened])).toEqual([['payments', ['keyRotationInterval']]]);
    expect(await cli(['policies', 'update', 'payments'], env)).toMatchObject({ code: 2, err: 'keyturn: policies update: give at least one field to change (see --help)' });
    expect(await cli(['policies', 'create', 'x', '--key-grace', 'soon'], env)).toMatchObject({ code: 2 });
    expect(await cli(['policies', 'create', 'x', '--from', 'nope'], env)).toMatchObject({ code: 1, err: expect.stringMatching(/^keyturn: ERR_VALIDATION: policy: unknown policy/) });
  });

  it('keyturn keys rotate prints the successor once; --json has its id and key; the old key verifies during the grace', async () => {
    const created = JSON.parse((await cli(['keys', 'create', '--owner', 'billing', '--name', 'ci', '--scopes', 'read', '--json'], env)).out) as { id: string; key: string };
    const run = await cli(['keys', 'rotate', created.id, '--grace', '1h', '--json'], env);
    expect(run.code, run.err).toBe(0);
    const rotated = JSON.parse(run.out) as { id: string; key: string; name: string; predecessor: { id: string; status: string } };
    expect(rotated).toMatchObject({ name: 'ci', scopes: ['read'], predecessor: { id: created.id, status: 'rotating' } });
    expect(rotated.key).toMatch(/^kt_live_/);
    const old = (await kt.api('POST', '/v1/keys/verify', { key: created.key }, null)).body;
    expect(old).toMatchObject({ valid: true, keyId: created.id, rotation: { status: 'rotating' } });
    expect((await kt.api('POST', '/v1/keys/verify', { key: rotated.key }, null)).body).toMatchObject({ valid: true, keyId: rotated.id });
    const again = await cli(['keys', 'rotate', created.id], env);
    expect(again).toMatchObject({ code: 1, err: expect.stringContaining(`ERR_KEY_STATE: the key was already rotated; its successor is ${rotated.id}`) });
    expect(await cli(['keys', 'rotate', rotated.id, '--grace', '2d'], env)).toMatchObject({ code: 1, err: expect.stringMatching(/ERR_VALIDATION: grace: at most 86400 seconds/) });
    expect(await cli(['keys', 'rotate', rotated.id, '--grace', 'later'], env)).toMatchObject({ code: 2 });
    kt.ctx.advance(3_600_000);
    expect((await kt.api('POST', '/v1/keys/verify', { key: created.key }, null)).body).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });
  });

  it('keyturn keys self-rotate rewrites that one line of the env file atomically, mode kept; a missing variable changes nothing', async () => {
    const created = JSON.parse((await cli(['keys', 'create', '--owner', 'billing', '--name', 'deploy', '--json'], env)).out) as { id: string; key: string };
    const dir = mkdtempSync(join(tmpdir(), 'keyturn-env-'));
    const file = join(dir, '.env');
    try {
      const before = `# deploy\nOTHER=1\nexport API_KEY="${created.key}" # billing\nLAST=x\n`;
      writeFileSync(file, before);
      chmodSync(file, 0o600);
      expect(await cli(['keys', 'self-rotate', '--env-file', file, '--var', 'MISSING'], env)).toMatchObject({ code: 2, err: `keyturn: --var: MISSING is not set in ${file}` });
      expect(readFileSync(file, 'utf8')).toBe(before);
      const run = await cli(['keys', 'self-rotate', '--env-file', file, '--var', 'API_KEY', '--json'], env);
      expect(run.code, run.err).toBe(0);
      const out = JSON.parse(run.out) as { id: string; predecessor: string };
      expect(out.predecessor).toBe(created.id);
      const after = readFileSync(file, 'utf8');
      const next = /export API_KEY="([^"]+)" # billing/.exec(after)![1]!;
      expect(after).toBe(before.replace(created.key, next));
      expect(run.out).not.toContain(next.slice(8));
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect((await kt.api('POST', '/v1/keys/verify', { key: next }, null)).body).toMatchObject({ valid: true, keyId: out.id });
      // Run again with the new key: it rotates again; with the old one (restored) the server names the successor.
      writeFileSync(file, before);
      expect(await cli(['keys', 'self-rotate', '--env-file', file, '--var', 'API_KEY'], env)).toMatchObject({ code: 1, err: expect.stringContaining(`its successor is ${out.id}`) });
      expect(readFileSync(file, 'utf8')).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keyturn principals set-policy names the policy of its keys', async () => {
    expect((await cli(['principals', 'set-policy', 'billing', 'internal'], env)).code).toBe(0);
    const key = JSON.parse((await cli(['keys', 'create', '--owner', 'billing', '--name', 'after', '--json'], env)).out) as { policyName: string };
    expect(key.policyName).toBe('internal');
    expect(await cli(['principals', 'set-policy', 'billing', 'nope'], env)).toMatchObject({ code: 1 });
  });
});
