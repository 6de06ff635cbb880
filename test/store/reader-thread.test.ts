import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyturnError } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';

const TASKS = new URL('./reader-task.ts', import.meta.url).href;

describe('SqliteStore.readOffThread', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kt-reader-'));
    store = new SqliteStore({ filename: join(dir, 'db.sqlite') });
    await store.transaction(async (tx) => {
      await tx.run('CREATE TABLE things (v INTEGER NOT NULL)');
      for (let v = 1; v <= 10; v++) await tx.run('INSERT INTO things (v) VALUES (?)', [v]);
    });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a module function on another thread over what is committed', async () => {
    const first = await store.readOffThread!<{ min: number }, { count: number; threadId: number }>({ module: TASKS, name: 'countAbove', input: { min: 4 } });
    expect(first.count).toBe(6);
    expect(first.threadId).not.toBe(threadId);
    await store.run('INSERT INTO things (v) VALUES (?)', [100]);
    const after = await store.readOffThread!<{ min: number }, { count: number; threadId: number }>({ module: TASKS, name: 'countAbove', input: { min: 4 } });
    expect(after).toEqual({ count: 7, threadId: first.threadId });
  });

  it("gives a keyturn error back with its code, and refuses writes and unknown functions", async () => {
    const refused = store.readOffThread!({ module: TASKS, name: 'refuse', input: null });
    await expect(refused).rejects.toBeInstanceOf(KeyturnError);
    await expect(refused).rejects.toMatchObject({ code: 'ERR_NOT_FOUND', message: 'nothing here' });
    await expect(store.readOffThread!({ module: TASKS, name: 'write', input: null })).rejects.toThrow(/readonly/i);
    await expect(store.readOffThread!({ module: TASKS, name: 'nothing', input: null })).rejects.toThrow(/exports no function nothing/);
    expect((await store.all<{ n: number }>('SELECT COUNT(*) AS n FROM things'))[0]!.n).toBe(10);
  });

  it('is refused once the store is closed, and absent for an in-memory database', async () => {
    await store.close();
    await expect(store.readOffThread!({ module: TASKS, name: 'countAbove', input: { min: 0 } })).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    const memory = new SqliteStore({ filename: ':memory:' });
    expect(memory.readOffThread).toBeUndefined();
    await memory.close();
  });
});
