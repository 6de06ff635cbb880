import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PG_UP, PG_URL } from '../support/stores.js';
import { ROOT, runBin, serveBin } from '../support/spawn.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keyturn-e2e-'));
  dirs.push(d);
  return d;
}

/**
 * The README's tour, through the real binary, with an API server's verifier (the published
 * `keyturn/verifier`, from dist) watching: create a principal and a key, verify, revoke.
 */
async function tour(url: string, dataDir: string): Promise<void> {
  const env = { KEYTURN_URL: url, KEYTURN_DATA_DIR: dataDir };
  const { createVerifier } = (await import(join(ROOT, 'dist', 'verifier', 'index.js'))) as typeof import('../../src/verifier/index.js');
  expect((await runBin(['principals', 'create', '--kind', 'service', '--name', 'billing'], env)).code).toBe(0);
  // The verifier's own key (scope verify): the change stream is served to no one else.
  const verifierKey = await runBin(['keys', 'create', '--owner', 'billing', '--name', 'api-verifier', '--scopes', 'verify', '--json'], env);
  expect(verifierKey.code).toBe(0);
  const apiKey = (JSON.parse(verifierKey.stdout) as { key: string }).key;
  const verifier = createVerifier({ url, apiKey, cacheTtlMs: 3_600_000, requiredScopes: ['read'] });
  try {
    await vi.waitFor(() => expect(verifier.stats().stream).toBe('open'), { timeout: 15_000 });
    const created = await runBin(['keys', 'create', '--owner', 'billing', '--name', 'ci', '--scopes', 'read', '--json'], env);
    expect(created.code).toBe(0);
    const { id, key } = JSON.parse(created.stdout) as { id: string; key: string };
    const ok = await runBin(['keys', 'verify', '-'], env, key);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toContain(`valid: ${id}`);
    expect(await verifier.verify(key)).toMatchObject({ valid: true, keyId: id, scopes: ['read'] }); // now cached for an hour
    expect((await runBin(['keys', 'revoke', id], env)).code).toBe(0);
    const revoked = await runBin(['keys', 'verify', '-'], env, key);
    expect(revoked.code).toBe(1);
    expect(revoked.stdout.trim()).toBe('invalid: ERR_KEY_REVOKED');
    // The revocation reached the verifier's cache through the change stream.
    await vi.waitFor(async () => expect(await verifier.verify(key)).toMatchObject({ valid: false, code: 'ERR_KEY_REVOKED' }), { timeout: 5000 });
  } finally {
    await verifier.close();
  }
}

describe('keyturn serve (built binary)', () => {
  it('starts on SQLite, bootstraps an admin key file (0600) without printing the key, and serves the tour', async () => {
    const dataDir = tempDir();
    const server = await serveBin(['--data-dir', dataDir]);
    try {
      const keyFile = join(dataDir, 'admin.key');
      const adminKey = readFileSync(keyFile, 'utf8').trim();
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(server.stdout()).toContain(`bootstrap admin key written to ${keyFile}`);
      expect(server.stdout()).not.toContain(adminKey.slice(8));
      expect(statSync(join(dataDir, 'keyturn.db')).isFile()).toBe(true);
      await tour(server.url, dataDir);
    } finally {
      await server.stop();
    }
    // A restart keeps the data and does not bootstrap again.
    const again = await serveBin(['--data-dir', dataDir]);
    try {
      expect(again.stdout()).not.toContain('bootstrap admin key');
      const list = await runBin(['keys', 'list', '--json'], { KEYTURN_URL: again.url, KEYTURN_DATA_DIR: dataDir });
      expect(JSON.parse(list.stdout).items).toHaveLength(3); // the admin's, the tour's and the verifier's
    } finally {
      await again.stop();
    }
  }, 90_000); // a dozen CLI processes on a shared machine

  it.runIf(PG_UP)('runs on PostgreSQL with --db', async () => {
    const schema = `kt_e2e_${randomBytes(4).toString('hex')}`;
    const dataDir = tempDir();
    const server = await serveBin(['--data-dir', dataDir, '--db', `${PG_URL}?schema=${schema}`, '--issuer', 'https://keyturn.test'], {
      KEYTURN_MASTER_KEY: randomBytes(32).toString('hex'),
    });
    try {
      expect(server.stdout()).toContain('(PostgreSQL)');
      await tour(server.url, dataDir);
    } finally {
      await server.stop();
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".api_keys`);
      expect(rows[0].n).toBe(3); // the admin's, the tour's and the verifier's
      await client.query(`DROP SCHEMA "${schema}" CASCADE`);
      await client.end();
    }
  }, 90_000);

  it('refuses a bad database URL with one line and a non-zero exit', async () => {
    const run = await runBin(['serve', '--data-dir', tempDir(), '--db', 'mysql://x', '--port', '0']);
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^keyturn: ERR_CONFIG: unsupported database URL/);
  });
});
