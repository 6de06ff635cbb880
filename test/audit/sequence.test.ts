/**
 * The ordered log (issue 12 item 2): a reader that follows `after=` sees every committed event
 * exactly once, in order, with concurrent writers on several stores (separate connection pools or
 * one SQLite store whose transactions queue) — including a transaction deliberately held open
 * after it appended, while later ones try to commit first.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { appendEvent, appendEvents, EVENTS_CHANNEL, listEvents, logHead, SYSTEM, type AuditEvent } from '../../src/audit/events.js';
import { manualContext } from '../../src/core/context.js';
import { generateSecret } from '../../src/core/secret.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import type { Store, Transaction } from '../../src/store/port.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const ctx = manualContext(new Date('2026-12-05T00:00:00Z'));

function created(tx: Transaction, name: string): Promise<string> {
  return appendEvent(tx, ctx, { type: 'principal.created', target: name, outcome: 'success', data: { kind: 'service', name } }, SYSTEM);
}

/** Follows the log with `after=` (as `GET /v1/events?after=` does) until `stop()`; keeps what it read. */
function follow(store: Store): { seen: AuditEvent[]; stop: () => Promise<void> } {
  const seen: AuditEvent[] = [];
  let running = true;
  const loop = (async () => {
    let after = 0;
    while (running) {
      const page = await listEvents(store, { afterSeq: after, limit: 50 });
      seen.push(...page);
      if (page.length > 0) after = (page.at(-1) as AuditEvent).seq;
      else await sleep(2);
    }
    // A last read after the writers are done.
    for (;;) {
      const page = await listEvents(store, { afterSeq: after, limit: 1000 });
      if (page.length === 0) break;
      seen.push(...page);
      after = (page.at(-1) as AuditEvent).seq;
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * Another writer on the same database: a second pool on PostgreSQL (as another process has); on
 * SQLite the same store, since one process holds the file (a second store in this process would
 * block the event loop in SQLite's busy wait while the first awaits).
 */
async function second(kind: string, handle: StoreHandle): Promise<Store> {
  return kind === 'postgres' ? handle.another() : handle.store;
}

describeStore('the ordered event log', (kind) => {
  let handle: StoreHandle;
  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
  });
  afterEach(async () => handle.dispose());

  it('a transaction held open after appending: later writers wait, nothing is skipped, commit order is seq order', async () => {
    const other = await second(kind, handle);
    const reader = follow(handle.store);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let appendedA!: () => void;
    const aAppended = new Promise<void>((resolve) => (appendedA = resolve));
    const order: string[] = [];
    // A takes the next number, then stays open.
    const a = handle.store.transaction(async (tx) => {
      await created(tx, 'held');
      appendedA();
      await held;
      order.push('A');
    });
    await aAppended;
    // B and C, on another store ("process"), try to commit while A is open.
    const b = other.transaction(async (tx) => {
      await created(tx, 'late-1');
      order.push('B');
    });
    const c = other.transaction(async (tx) => {
      await created(tx, 'late-2');
      order.push('C');
    });
    await sleep(kind === 'postgres' ? 300 : 100);
    // Nothing after A is visible while A is open: a reader cannot run past A's number.
    expect((await listEvents(handle.store)).map((e) => e.target)).toEqual([]);
    expect(order).toEqual([]);
    release();
    await Promise.all([a, b, c]);
    await reader.stop();
    expect(order[0]).toBe('A');
    const seen = reader.seen.map((e) => [e.seq, e.target]);
    expect(seen[0]).toEqual([1, 'held']);
    expect(seen.map(([seq]) => seq)).toEqual([1, 2, 3]);
    expect(new Set(seen.slice(1).map(([, t]) => t))).toEqual(new Set(['late-1', 'late-2']));
  });

  it('a rolled-back append leaves no gap: its number is reused', async () => {
    await expect(
      handle.store.transaction(async (tx) => {
        await created(tx, 'doomed');
        throw new Error('change failed');
      }),
    ).rejects.toThrow('change failed');
    await handle.store.transaction((tx) => created(tx, 'kept'));
    expect((await listEvents(handle.store)).map((e) => [e.seq, e.target])).toEqual([[1, 'kept']]);
  });

  it('concurrent writers on two stores with random delays before commit: the follower sees 1..n once each, in order', async () => {
    const stores = [handle.store, await second(kind, handle)];
    const reader = follow(handle.store);
    const writers = 6;
    const each = kind === 'postgres' ? 15 : 10;
    let rolledBack = 0;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const store = stores[w % 2] as Store;
        for (let i = 0; i < each; i++) {
          const fail = (w + i) % 7 === 3;
          await store
            .transaction(async (tx) => {
              await created(tx, `w${w}-${i}`);
              // Hold the transaction a little (a slow change after its event): others queue behind it.
              await sleep((w * 7 + i * 3) % 5);
              if (fail) throw new Error('rolled back');
            })
            .catch(() => void (rolledBack += 1));
        }
      }),
    );
    await reader.stop();
    const committed = writers * each - rolledBack;
    expect(rolledBack).toBeGreaterThan(0);
    expect(reader.seen.map((e) => e.seq)).toEqual(Array.from({ length: committed }, (_, i) => i + 1));
    expect(new Set(reader.seen.map((e) => e.id)).size).toBe(committed);
  });

  it('appendEvents: several events in one claim, consecutive numbers between single appends, redacted, announced after commit, gone with a rollback', async () => {
    const heard: (string | null)[] = [];
    const stop = handle.store.subscribe(EVENTS_CHANNEL, (id) => heard.push(id));
    const secret = generateSecret('ktr', ctx);
    try {
      await handle.store.transaction((tx) => created(tx, 'before'));
      const ids = await handle.store.transaction(async (tx) => {
        const appended = await appendEvents(
          tx,
          ctx,
          Array.from({ length: 300 }, (_, i) => ({ type: 'principal.created' as const, target: `p${i}`, outcome: 'success' as const, reason: i === 0 ? `leaked ${secret}` : null, data: { kind: 'service' as const, name: `p${i}` } })),
          SYSTEM,
        );
        expect(heard).toHaveLength(1); // not before the commit
        return appended;
      });
      await handle.store.transaction((tx) => created(tx, 'after'));
      const all = await listEvents(handle.store, { limit: 1000 });
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 302 }, (_, i) => i + 1));
      expect(all.slice(1, 301).map((e) => e.id)).toEqual(ids);
      expect(all.slice(1, 301).map((e) => e.target)).toEqual(Array.from({ length: 300 }, (_, i) => `p${i}`));
      expect(all[1]!.reason).toBe('leaked ktr_[REDACTED]');
      expect(heard.slice(1, 301)).toEqual(ids);
      await expect(
        handle.store.transaction(async (tx) => {
          await appendEvents(tx, ctx, [{ type: 'principal.created', target: 'x', outcome: 'success', data: { kind: 'service', name: 'x' } }], SYSTEM);
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      await handle.store.transaction((tx) => created(tx, 'last'));
      expect((await listEvents(handle.store, { afterSeq: 302 })).map((e) => [e.seq, e.target])).toEqual([[303, 'last']]);
    } finally {
      stop();
    }
  });
});

/**
 * SQLite commits the transactions waiting for its one writer together (group commit), and the
 * sequence is counted in that commit instead of an UPDATE of `audit_head` per event: these check
 * that the guarantee is the same — a transaction rolled back in the middle of a commit gives its
 * numbers back, the head row is committed with the events it counts, and a new commit (after a
 * restart, or after another process wrote the file) continues from the row.
 */
describeStore('the ordered event log within one SQLite group commit', (kind) => {
  let handle: StoreHandle;
  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
  });
  afterEach(async () => handle.dispose());

  /** Transactions started in the same turn of the event loop: on SQLite they share one commit. */
  function together(store: Store, bodies: Array<(tx: Transaction) => Promise<unknown>>): Promise<PromiseSettledResult<unknown>[]> {
    return Promise.allSettled(bodies.map((body) => store.transaction(body)));
  }

  it('rolled-back transactions between committed ones in one commit leave no gap; the head row equals the last number', async () => {
    const shared: boolean[] = [];
    const results = await together(handle.store, [
      (tx) => created(tx, 'a'),
      async (tx) => {
        shared.push(tx.commit?.get('audit.head') !== undefined);
        await created(tx, 'doomed-1');
        await created(tx, 'doomed-2');
        throw new Error('change failed');
      },
      (tx) => created(tx, 'b'),
      async (tx) => {
        await created(tx, 'doomed-3');
        throw new Error('change failed');
      },
      (tx) => created(tx, 'c'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    // On SQLite the second transaction ran in the commit the first opened (the case under test).
    if (kind === 'sqlite') expect(shared).toEqual([true]);
    const events = await listEvents(handle.store);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    // SQLite runs a commit's transactions in the order they were started; PostgreSQL's race.
    if (kind === 'sqlite') expect(events.map((e) => e.target)).toEqual(['a', 'b', 'c']);
    else expect(new Set(events.map((e) => e.target))).toEqual(new Set(['a', 'b', 'c']));
    expect(await logHead(handle.store)).toEqual({ seq: 3, baseSeq: 0 });
    // The next commit continues from the committed head.
    await handle.store.transaction((tx) => created(tx, 'd'));
    expect((await listEvents(handle.store)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect((await logHead(handle.store)).seq).toBe(4);
  });

  it('batches (appendEvents) and single appends in one commit share the counter: consecutive, no number twice, a rolled-back batch gives its numbers back', async () => {
    const batch = (tx: Transaction, names: string[]) =>
      appendEvents(tx, ctx, names.map((name) => ({ type: 'principal.created' as const, target: name, outcome: 'success' as const, data: { kind: 'service' as const, name } })), SYSTEM);
    const results = await together(handle.store, [
      (tx) => created(tx, 'a'),
      (tx) => batch(tx, ['b1', 'b2', 'b3']),
      async (tx) => {
        await batch(tx, ['doomed-1', 'doomed-2']);
        throw new Error('change failed');
      },
      (tx) => created(tx, 'c'),
      (tx) => batch(tx, ['d1', 'd2']),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const events = await listEvents(handle.store);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    if (kind === 'sqlite') expect(events.map((e) => e.target)).toEqual(['a', 'b1', 'b2', 'b3', 'c', 'd1', 'd2']);
    else expect(new Set(events.map((e) => e.target))).toEqual(new Set(['a', 'b1', 'b2', 'b3', 'c', 'd1', 'd2']));
    expect((await logHead(handle.store)).seq).toBe(7);
  });

  it('a commit whose every transaction rolls back leaves the head where it was', async () => {
    await handle.store.transaction((tx) => created(tx, 'first'));
    await together(handle.store, [
      async (tx) => {
        await created(tx, 'doomed-1');
        throw new Error('no');
      },
      async (tx) => {
        await created(tx, 'doomed-2');
        throw new Error('no');
      },
    ]);
    expect((await logHead(handle.store)).seq).toBe(1);
    await handle.store.transaction((tx) => created(tx, 'second'));
    expect((await listEvents(handle.store)).map((e) => [e.seq, e.target])).toEqual([
      [1, 'first'],
      [2, 'second'],
    ]);
  });

  it('after a restart the sequence continues from the stored head', async () => {
    await together(handle.store, [(tx) => created(tx, 'a'), (tx) => created(tx, 'b')]);
    // SQLite: the process stops and starts again; PostgreSQL: another node takes over.
    if (kind === 'sqlite') await handle.store.close();
    const reopened = kind === 'sqlite' ? new SqliteStore({ filename: handle.db }) : await handle.another();
    try {
      await together(reopened, [(tx) => created(tx, 'c'), (tx) => created(tx, 'd')]);
      const events = await listEvents(reopened);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(new Set(events.slice(0, 2).map((e) => e.target))).toEqual(new Set(['a', 'b']));
      expect(new Set(events.slice(2).map((e) => e.target))).toEqual(new Set(['c', 'd']));
      expect((await logHead(reopened)).seq).toBe(4);
    } finally {
      if (kind === 'sqlite') await reopened.close();
    }
  });

  it('events another writer of the file committed between two commits are counted (nothing is remembered across commits)', async () => {
    await handle.store.transaction((tx) => created(tx, 'here-1'));
    // Another process on the same file, as `keyturn admin recover` opens it (beside the server).
    const beside = kind === 'sqlite' ? new SqliteStore({ filename: handle.db, beside: true }) : await handle.another();
    try {
      await beside.transaction((tx) => created(tx, 'beside'));
    } finally {
      if (kind === 'sqlite') await beside.close();
    }
    await handle.store.transaction((tx) => created(tx, 'here-2'));
    expect((await listEvents(handle.store)).map((e) => [e.seq, e.target])).toEqual([
      [1, 'here-1'],
      [2, 'beside'],
      [3, 'here-2'],
    ]);
  });
});
