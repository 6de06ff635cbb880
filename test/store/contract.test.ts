import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { Migration, Store } from '../../src/store/port.js';
import { isUniqueViolation } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const migrations: Migration[] = [
  {
    id: '0001_things',
    description: 'test table',
    sql: 'CREATE TABLE things (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, n BIGINT NOT NULL, expires_at BIGINT)',
  },
  {
    id: '0002_log',
    description: 'auto-numbered rows',
    sql: {
      sqlite: 'CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT NOT NULL)',
      postgres: 'CREATE TABLE log (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, msg TEXT NOT NULL)',
    },
  },
];

describeStore('Store contract', (kind) => {
  let handle: StoreHandle;
  let store: Store;

  beforeEach(async () => {
    handle = await freshStore(kind);
    store = handle.store;
    await store.migrate(migrations);
  });
  afterEach(async () => handle.dispose());

  it('applies each migration once and records it', async () => {
    expect(await store.migrate(migrations)).toEqual([]);
    const more = [...migrations, { id: '0003_more', description: 'x', sql: 'CREATE TABLE more (id TEXT PRIMARY KEY)' }];
    expect(await store.migrate(more)).toEqual(['0003_more']);
    const rows = await store.all<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['0001_things', '0002_log', '0003_more']);
  });

  it('rejects migrations out of order and rolls back a failing one', async () => {
    await expect(store.migrate([migrations[1]!, migrations[0]!])).rejects.toThrow(/out of order/);
    const bad: Migration = { id: '0009_bad', description: 'broken', sql: 'CREATE TABLE half (id TEXT); THIS IS NOT SQL' };
    await expect(store.migrate([...migrations, bad])).rejects.toMatchObject({ code: 'ERR_MIGRATION' });
    expect(await store.get("SELECT id FROM schema_migrations WHERE id = '0009_bad'")).toBeUndefined();
  });

  it('round-trips text, big integers and nulls with ? placeholders', async () => {
    const t = Date.UTC(2030, 0, 1);
    await store.run('INSERT INTO things (id, name, n, expires_at) VALUES (?, ?, ?, ?)', ['a', 'é ☃', t, null]);
    const row = await store.get<{ id: string; name: string; n: number; expires_at: number | null }>('SELECT * FROM things WHERE id = ?', ['a']);
    expect(row).toEqual({ id: 'a', name: 'é ☃', n: t, expires_at: null });
    expect(typeof row!.n).toBe('number');
    const count = await store.get<{ c: number }>('SELECT COUNT(*) AS c FROM things');
    expect(Number(count!.c)).toBe(1);
  });

  it('runs queries a caller starts together inside one transaction, in order, and commits them', async () => {
    const names = await store.transaction(async (tx) => {
      await Promise.all([1, 2, 3, 4, 5].map((n) => tx.run('INSERT INTO things (id, name, n) VALUES (?, ?, ?)', [`t${n}`, `name${n}`, n])));
      const rows = await Promise.all([1, 2, 3, 4, 5].map((n) => tx.get<{ name: string }>('SELECT name FROM things WHERE id = ?', [`t${n}`])));
      return rows.map((r) => r?.name);
    });
    expect(names).toEqual(['name1', 'name2', 'name3', 'name4', 'name5']);
    expect(Number((await store.get<{ c: number }>('SELECT COUNT(*) AS c FROM things'))!.c)).toBe(5);
  });

  it('subscribes to many channels at once on one feed connection', async () => {
    const heard: string[] = [];
    const offs = ['a', 'b', 'c', 'd', 'e', 'f'].map((channel) => store.subscribe(channel, (payload) => payload && heard.push(`${channel}:${payload}`)));
    // PostgreSQL: from another node, so each arrives through this store's LISTENs; SQLite has one feed per store.
    const from = kind === 'postgres' ? await handle.another() : store;
    if (kind === 'postgres') await (store as unknown as { feedReady(): Promise<void> }).feedReady();
    await from.transaction(async (tx) => {
      for (const channel of ['a', 'b', 'c', 'd', 'e', 'f']) tx.notify(channel, 'x');
    });
    await vi.waitFor(() => expect(heard.sort()).toEqual(['a:x', 'b:x', 'c:x', 'd:x', 'e:x', 'f:x']));
    for (const off of offs) off();
  });

  it('enforces uniqueness and reports it recognisably', async () => {
    await store.run('INSERT INTO things (id, name, n) VALUES (?, ?, ?)', ['a', 'same', 1]);
    const err = await store.run('INSERT INTO things (id, name, n) VALUES (?, ?, ?)', ['b', 'same', 2]).catch((e: unknown) => e);
    expect(isUniqueViolation(err)).toBe(true);
    expect((await store.all('SELECT * FROM things')).length).toBe(1);
  });

  it('commits a transaction as a whole and rolls it back as a whole', async () => {
    await store.transaction(async (tx) => {
      await tx.run('INSERT INTO things (id, name, n) VALUES (?, ?, ?)', ['a', 'a', 1]);
      await tx.run('INSERT INTO log (msg) VALUES (?)', ['created a']);
    });
    await expect(
      store.transaction(async (tx) => {
        await tx.run('INSERT INTO things (id, name, n) VALUES (?, ?, ?)', ['b', 'b', 2]);
        await tx.run('INSERT INTO log (msg) VALUES (?)', ['created b']);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await store.all<{ id: string }>('SELECT id FROM things')).map((r) => r.id)).toEqual(['a']);
    expect((await store.all<{ msg: string }>('SELECT msg FROM log')).map((r) => r.msg)).toEqual(['created a']);
  });

  it('does not show uncommitted writes to readers outside the transaction', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const didInsert = new Promise<void>((r) => (inserted = r));
    const tx = store.transaction(async (t) => {
      await t.run('INSERT INTO things (id, name, n) VALUES (?, ?, ?)', ['x', 'x', 1]);
      inserted();
      await gate;
    });
    await didInsert;
    expect(await store.get('SELECT id FROM things WHERE id = ?', ['x'])).toBeUndefined();
    release();
    await tx;
    expect(await store.get('SELECT id FROM things WHERE id = ?', ['x'])).toBeDefined();
  });

  it('keeps concurrent transactions from losing updates', async () => {
    await store.run('INSERT INTO things (id, name, n) VALUES (?, ?, ?)', ['c', 'counter', 0]);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.transaction(async (tx) => {
          await tx.run('UPDATE things SET n = n + 1 WHERE id = ?', ['c']);
        }),
      ),
    );
    expect((await store.get<{ n: number }>('SELECT n FROM things WHERE id = ?', ['c']))!.n).toBe(20);
  });

  it('keeps concurrent transactions atomic each: a failing one leaves nothing, the others commit and notify', async () => {
    const seen: (string | null)[] = [];
    store.subscribe('batch', (p) => seen.push(p));
    if ('feedReady' in store) await (store as { feedReady(): Promise<void> }).feedReady();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        store.transaction(async (tx) => {
          await tx.run('INSERT INTO log (msg) VALUES (?)', [`m${i}`]);
          tx.notify('batch', `m${i}`);
          if (i % 7 === 3) {
            await tx.run('INSERT INTO things (id, name, n) VALUES (?, ?, ?)', [`t${i}`, 'dup', i]);
            await tx.run('INSERT INTO things (id, name, n) VALUES (?, ?, ?)', [`u${i}`, 'dup', i]); // unique violation
          }
          return i;
        }),
      ),
    );
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
    expect(failed).toEqual([3, 10, 17, 24]);
    for (const i of failed) expect(isUniqueViolation((outcomes[i] as PromiseRejectedResult).reason)).toBe(true);
    const logged = (await store.all<{ msg: string }>('SELECT msg FROM log')).map((r) => r.msg);
    const committed = Array.from({ length: 30 }, (_, i) => i).filter((i) => !failed.includes(i)).map((i) => `m${i}`);
    expect(logged.sort()).toEqual([...committed].sort());
    expect(await store.all('SELECT id FROM things')).toEqual([]);
    await vi.waitFor(() => expect([...seen].sort()).toEqual([...committed].sort()), { timeout: 5000 });
  });

  it('filters by expiry with integer time comparisons', async () => {
    const now = Date.UTC(2030, 0, 1);
    await store.run('INSERT INTO things (id, name, n, expires_at) VALUES (?, ?, ?, ?)', ['old', 'old', 0, now - 1]);
    await store.run('INSERT INTO things (id, name, n, expires_at) VALUES (?, ?, ?, ?)', ['new', 'new', 0, now + 1]);
    await store.run('INSERT INTO things (id, name, n, expires_at) VALUES (?, ?, ?, ?)', ['never', 'never', 0, null]);
    const live = await store.all<{ id: string }>('SELECT id FROM things WHERE expires_at IS NULL OR expires_at > ? ORDER BY id', [now]);
    expect(live.map((r) => r.id)).toEqual(['never', 'new']);
  });

  it('delivers change notifications after commit only, in order', async () => {
    const seen: (string | null)[] = [];
    const stop = store.subscribe('things', (p) => seen.push(p));
    if ('feedReady' in store) await (store as { feedReady(): Promise<void> }).feedReady();
    await store.transaction(async (tx) => {
      tx.notify('things', 'one');
      tx.notify('things', 'two');
      expect(seen).toEqual([]);
    });
    await expect(
      store.transaction(async (tx) => {
        tx.notify('things', 'never');
        throw new Error('rollback');
      }),
    ).rejects.toThrow();
    await vi.waitFor(() => expect(seen).toEqual(['one', 'two']), { timeout: 5000 });
    stop();
    await store.transaction(async (tx) => tx.notify('things', 'after-stop'));
    await new Promise((r) => setTimeout(r, kind === 'postgres' ? 200 : 0));
    expect(seen).toEqual(['one', 'two']);
  });

  if (kind === 'postgres') {
    it('delivers notifications from one node to another', async () => {
      const other = await handle.another();
      const seen: (string | null)[] = [];
      other.subscribe('things', (p) => seen.push(p));
      await (other as unknown as { feedReady(): Promise<void> }).feedReady();
      await store.transaction(async (tx) => tx.notify('things', 'from node 1'));
      await vi.waitFor(() => expect(seen).toEqual(['from node 1']), { timeout: 5000 });
    });

    it('applies migrations once when two nodes start together', async () => {
      const other = await handle.another();
      const extra: Migration = { id: '0005_race', description: 'race', sql: 'CREATE TABLE race (id TEXT PRIMARY KEY)' };
      const [a, b] = await Promise.all([store.migrate([...migrations, extra]), other.migrate([...migrations, extra])]);
      expect([...a, ...b]).toEqual(['0005_race']);
    });
  }
});
