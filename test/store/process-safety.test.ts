import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { runBin, serveBin } from '../support/spawn.js';
import { PG_UP, PG_URL } from '../support/stores.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keyturn-lock-'));
  dirs.push(d);
  return d;
}

describe('one SQLite file, one process', () => {
  it('stores opened by one process share the file; the lock is released when the last one closes', async () => {
    const file = join(tempDir(), 'kt.db');
    const a = new SqliteStore({ filename: file });
    const b = new SqliteStore({ filename: file });
    await a.run('CREATE TABLE t (x INTEGER)');
    await b.run('INSERT INTO t (x) VALUES (1)');
    expect(await a.all('SELECT x FROM t')).toEqual([{ x: 1 }]);
    await a.close();
    await b.close();
    // closed everywhere: the file can be opened again
    const c = new SqliteStore({ filename: file });
    expect(await c.all('SELECT x FROM t')).toEqual([{ x: 1 }]);
    await c.close();
  });

  it('refuses a second keyturn serve process on the same database with one clear line; the first keeps serving', async () => {
    const dataDir = tempDir();
    const first = await serveBin(['--data-dir', dataDir]);
    try {
      const second = await runBin(['serve', '--data-dir', dataDir, '--port', '0', '--log-level', 'warn']);
      expect(second.code).not.toBe(0);
      expect(second.stderr.trim().split('\n')).toHaveLength(1);
      expect(second.stderr).toMatch(/^keyturn: ERR_CONFIG: another keyturn process is using the SQLite database .*keyturn\.db: SQLite serves one process/);
      expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    } finally {
      await first.stop();
    }
    // Stopped cleanly: the next process starts.
    const again = await serveBin(['--data-dir', dataDir]);
    await again.stop();
  });

  it('takes over from a process that died holding the database (no stale lock)', async () => {
    const dataDir = tempDir();
    const first = await serveBin(['--data-dir', dataDir]);
    await new Promise<void>((resolve) => {
      first.child.once('exit', () => resolve());
      first.child.kill('SIGKILL');
    });
    const next = await serveBin(['--data-dir', dataDir]);
    try {
      expect((await fetch(`${next.url}/readyz`)).status).toBe(200);
    } finally {
      await next.stop();
    }
  });
});

describe('a PostgreSQL cluster', () => {
  it('refuses to start without an explicit issuer and a shared master key, in one line', async () => {
    const db = 'postgres://nobody@127.0.0.1:1/none';
    const both = await runBin(['serve', '--data-dir', tempDir(), '--db', db, '--port', '0']);
    expect(both.code).not.toBe(0);
    expect(both.stderr.trim().split('\n')).toHaveLength(1);
    expect(both.stderr.trim()).toBe(
      'keyturn: ERR_CONFIG: with a postgres:// database, set issuer (KEYTURN_ISSUER) and masterKey (KEYTURN_MASTER_KEY), the same on every node',
    );
    const noKey = await runBin(['serve', '--data-dir', tempDir(), '--db', db, '--port', '0', '--issuer', 'https://keyturn.example']);
    expect(noKey.stderr.trim()).toBe('keyturn: ERR_CONFIG: with a postgres:// database, set masterKey (KEYTURN_MASTER_KEY), the same on every node');
    const noIssuer = await runBin(['serve', '--data-dir', tempDir(), '--db', db, '--port', '0'], { KEYTURN_MASTER_KEY: randomBytes(32).toString('hex') });
    expect(noIssuer.stderr.trim()).toBe('keyturn: ERR_CONFIG: with a postgres:// database, set issuer (KEYTURN_ISSUER), the same on every node');
  });

  it('reads the pool size from configuration', () => {
    expect(loadConfig({}).store.poolSize).toBe(10);
    expect(loadConfig({ env: { KEYTURN_DB_POOL_SIZE: '3' } }).store.poolSize).toBe(3);
    expect(() => loadConfig({ flags: { dbPoolSize: 0 } })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
  });

  it.runIf(PG_UP)('bounds its connections by the pool size', async () => {
    const schema = `kt_pool_${randomBytes(4).toString('hex')}`;
    const store = (await openStore(`${PG_URL}?schema=${schema}`, tempDir(), { poolSize: 1 })) as PostgresStore;
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const first = store.transaction(async () => {
        entered();
        await held;
      });
      await inside;
      let secondStarted = false;
      const second = store.transaction(async (tx) => {
        secondStarted = true;
        return tx.get<{ n: number }>('SELECT 1 AS n');
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      // one connection, held by the first transaction: the second waits for it
      expect(secondStarted).toBe(false);
      release();
      await first;
      expect(await second).toEqual({ n: 1 });
    } finally {
      await store.run(`DROP SCHEMA "${schema}" CASCADE`);
      await store.close();
    }
  });
});
