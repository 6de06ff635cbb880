/**
 * SQLite's group commit shares one scope among the transactions that commit together
 * (`Transaction.commit`): values kept for the length of the commit, work run once before COMMIT,
 * and a transaction's rollback hooks run only when that transaction rolls back. PostgreSQL commits
 * each transaction alone and has no scope.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/store/port.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { describeStore, freshStore } from '../support/stores.js';

describe('SQLite group commit scope', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyturn-group-'));
    store = new SqliteStore({ filename: join(dir, 'test.db') });
    await store.run('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('values are shared within one commit and gone in the next; pre-commit work runs once, last, inside the commit', async () => {
    const seen: Array<number | undefined> = [];
    const runs: string[] = [];
    const body = (n: number) => async (tx: Transaction) => {
      const scope = tx.commit!;
      seen.push(scope.get<number>('count'));
      scope.set('count', (scope.get<number>('count') ?? 0) + n);
      scope.beforeCommit('write', async (db) => {
        runs.push('write');
        await db.run('INSERT INTO t (k, v) VALUES (?, ?)', ['total', scope.get<number>('count') ?? -1]);
      });
      scope.beforeCommit('write', async () => void runs.push('second registration'));
    };
    await Promise.all([store.transaction(body(1)), store.transaction(body(2)), store.transaction(body(3))]);
    expect(seen).toEqual([undefined, 1, 3]);
    expect(runs).toEqual(['write']);
    expect(await store.get('SELECT v FROM t WHERE k = ?', ['total'])).toEqual({ v: 6 });
    // A later commit starts empty.
    const later = await store.transaction(async (tx) => tx.commit!.get<number>('count'));
    expect(later).toBeUndefined();
  });

  it("a transaction's rollback hooks run when it rolls back, latest first, and not when another does", async () => {
    const calls: string[] = [];
    const results = await Promise.allSettled([
      store.transaction(async (tx) => {
        tx.commit!.onRollback(() => calls.push('kept'));
      }),
      store.transaction(async (tx) => {
        tx.commit!.onRollback(() => calls.push('doomed-1'));
        tx.commit!.onRollback(() => calls.push('doomed-2'));
        await tx.run('INSERT INTO t (k, v) VALUES (?, ?)', ['doomed', 1]);
        throw new Error('rolled back');
      }),
      store.transaction(async (tx) => {
        await tx.run('INSERT INTO t (k, v) VALUES (?, ?)', ['kept', 1]);
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(calls).toEqual(['doomed-2', 'doomed-1']);
    expect(await store.all('SELECT k FROM t ORDER BY k')).toEqual([{ k: 'kept' }]);
  });

  it('pre-commit work that fails fails the whole commit, and every transaction in it is told', async () => {
    const results = await Promise.allSettled([
      store.transaction(async (tx) => {
        await tx.run('INSERT INTO t (k, v) VALUES (?, ?)', ['a', 1]);
        tx.commit!.beforeCommit('bad', (db) => db.run('INSERT INTO t (k, v) VALUES (?, NULL)', ['bad']));
      }),
      store.transaction(async (tx) => {
        await tx.run('INSERT INTO t (k, v) VALUES (?, ?)', ['b', 1]);
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await store.all('SELECT k FROM t')).toEqual([]);
    // The writer is usable again.
    await store.run('INSERT INTO t (k, v) VALUES (?, ?)', ['c', 1]);
    expect(await store.all('SELECT k FROM t')).toEqual([{ k: 'c' }]);
  });
});

describeStore('commit scope by adapter', (kind) => {
  it(kind === 'sqlite' ? 'SQLite transactions have one' : 'PostgreSQL transactions have none (each commits alone)', async () => {
    const handle = await freshStore(kind);
    try {
      const has = await handle.store.transaction(async (tx) => tx.commit !== undefined);
      expect(has).toBe(kind === 'sqlite');
    } finally {
      await handle.dispose();
    }
  });
});
