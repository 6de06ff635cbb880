import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { JobRunner, type JobDefinition, type JobRun } from '../../src/jobs/index.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const HOUR = 3_600_000;

/** A job body the test opens and closes by hand. */
function gate() {
  let open!: () => void;
  let entered!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const inside = new Promise<void>((resolve) => (entered = resolve));
  return { open, inside, opened, entered };
}

describeStore('JobRunner', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  const runners: JobRunner[] = [];
  const runner = (store: Store, nodeId: string, options: { renewEveryMs?: number } = {}) => {
    const r = new JobRunner({ store, ctx, nodeId, pollMs: 10, ...options });
    runners.push(r);
    return r;
  };

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2032-01-01T00:00:00Z'));
  });
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop();
    await handle.dispose();
  });

  it('runs a new job at once, then every interval (clock from the context), and records each run', async () => {
    const a = runner(handle.store, 'node-a');
    const seen: string[] = [];
    await a.register({ name: 'demo.tick', everyMs: HOUR, run: async (run) => void seen.push(`${run.node}@${ctx.now().toISOString()}`) });
    expect(await a.tick()).toEqual([{ name: 'demo.tick', node: 'node-a', ok: true, error: null, lost: false }]);
    expect(await a.tick()).toEqual([]);
    ctx.advance(HOUR - 1);
    expect(await a.tick()).toEqual([]);
    ctx.advance(1);
    expect(await a.tick()).toHaveLength(1);
    expect(seen).toEqual(['node-a@2032-01-01T00:00:00.000Z', 'node-a@2032-01-01T01:00:00.000Z']);
    expect(await a.get('demo.tick')).toMatchObject({
      everyMs: HOUR,
      runs: 2,
      claimedBy: null,
      lastError: null,
      lastStartedAt: '2032-01-01T01:00:00.000Z',
      nextRunAt: '2032-01-01T02:00:00.000Z',
    });
  });

  it('records a failing run and runs it again at the next interval', async () => {
    const a = runner(handle.store, 'node-a');
    let calls = 0;
    await a.register({
      name: 'demo.fails',
      everyMs: 60_000,
      run: async () => {
        if (++calls === 1) throw new Error('boom\nsecond line');
      },
    });
    expect(await a.tick()).toEqual([{ name: 'demo.fails', node: 'node-a', ok: false, error: 'boom', lost: false }]);
    expect(await a.get('demo.fails')).toMatchObject({ runs: 1, lastError: 'boom', claimedBy: null });
    ctx.advance(60_000);
    expect((await a.tick())[0]).toMatchObject({ ok: true });
    expect(await a.get('demo.fails')).toMatchObject({ runs: 2, lastError: null });
  });

  it('two runners on two store handles: each due run is claimed exactly once', async () => {
    const other = await handle.another();
    const a = runner(handle.store, 'node-a');
    const b = runner(other, 'node-b');
    const runs: string[] = [];
    const job = (): JobDefinition => ({ name: 'demo.once', everyMs: HOUR, run: async (run) => void runs.push(run.node) });
    await a.register(job());
    await b.register(job());
    for (let round = 0; round < 5; round++) {
      // At once on PostgreSQL; SQLite serves one process, so its two handles take turns.
      const [ra, rb] = kind === 'postgres' ? await Promise.all([a.tick(), b.tick()]) : [await a.tick(), await b.tick()];
      expect(ra.length + rb.length).toBe(1);
      ctx.advance(HOUR);
    }
    expect(runs).toHaveLength(5);
    expect((await a.get('demo.once')).runs).toBe(5);
  });

  it('skips a job another node is running, and renews the lease while it runs', async () => {
    const other = await handle.another();
    const a = runner(handle.store, 'node-a', { renewEveryMs: 20 });
    const b = runner(other, 'node-b');
    const g = gate();
    await a.register({
      name: 'demo.long',
      everyMs: HOUR,
      leaseMs: 60_000,
      run: async () => {
        g.entered();
        await g.opened;
      },
    });
    await b.register({ name: 'demo.long', everyMs: HOUR, leaseMs: 60_000, run: async () => undefined });
    const running = a.tick();
    await g.inside;
    expect(await b.tick()).toEqual([]);
    expect(await b.runNow('demo.long')).toBeUndefined();
    // Two minutes pass (twice the lease): renewals keep the claim alive.
    for (let i = 0; i < 4; i++) {
      const before = Date.parse((await b.get('demo.long')).claimedUntil!);
      ctx.advance(30_000);
      await vi.waitFor(async () => expect(Date.parse((await b.get('demo.long')).claimedUntil!)).toBeGreaterThan(before), { timeout: 5_000, interval: 10 });
      expect(await b.tick()).toEqual([]);
    }
    expect((await b.get('demo.long')).claimedBy).toBe('node-a');
    g.open();
    expect(await running).toEqual([{ name: 'demo.long', node: 'node-a', ok: true, error: null, lost: false }]);
  });

  it('takes over from a holder that died (stopped renewing) once its lease ends; the old holder learns it lost', async () => {
    const other = await handle.another();
    // node-a never renews within the test: from the store's point of view it died mid-run.
    const a = runner(handle.store, 'node-a', { renewEveryMs: 3_600_000 });
    const b = runner(other, 'node-b');
    const g = gate();
    let aRun: JobRun | undefined;
    const ranOn: string[] = [];
    await a.register({
      name: 'demo.lease',
      everyMs: HOUR,
      leaseMs: 60_000,
      run: async (run) => {
        aRun = run;
        ranOn.push(run.node);
        g.entered();
        await g.opened;
      },
    });
    await b.register({ name: 'demo.lease', everyMs: HOUR, leaseMs: 60_000, run: async (run) => void ranOn.push(run.node) });
    const stuck = a.tick();
    await g.inside;
    ctx.advance(60_000);
    expect(await b.tick()).toEqual([]); // the lease still holds (claimed_until is not yet past)
    ctx.advance(1);
    expect(await b.tick()).toEqual([{ name: 'demo.lease', node: 'node-b', ok: true, error: null, lost: false }]);
    expect(ranOn).toEqual(['node-a', 'node-b']);
    // The old holder wakes up: it cannot renew, its signal aborts, and its end is not recorded.
    expect(await aRun!.renew()).toBe(false);
    expect(aRun!.signal.aborted).toBe(true);
    g.open();
    expect(await stuck).toEqual([{ name: 'demo.lease', node: 'node-a', ok: true, error: null, lost: true }]);
    expect(await b.get('demo.lease')).toMatchObject({ runs: 1, claimedBy: null, nextRunAt: new Date(ctx.now().getTime() + HOUR).toISOString() });
  });

  it('catches up on start: a process that was down runs an overdue job once, then keeps the interval', async () => {
    const a = runner(handle.store, 'node-a');
    let runs = 0;
    const job: JobDefinition = { name: 'demo.catchup', everyMs: HOUR, run: async () => void runs++ };
    await a.register(job);
    await a.tick();
    await a.stop();
    ctx.advance(5 * HOUR + 123); // the whole cluster was down for five intervals
    const restarted = runner(await handle.another(), 'node-a2');
    await restarted.register(job);
    expect(await restarted.tick()).toHaveLength(1);
    expect(await restarted.tick()).toEqual([]);
    expect(runs).toBe(2);
    expect((await restarted.get('demo.catchup')).nextRunAt).toBe(new Date(ctx.now().getTime() + HOUR).toISOString());
  });

  it('lets a job ask to run again sooner, and a shorter interval on registration pulls the next run in', async () => {
    const a = runner(handle.store, 'node-a');
    let left = 3;
    await a.register({ name: 'demo.batch', everyMs: HOUR, run: async () => (--left > 0 ? { nextRunAt: ctx.now() } : {}) });
    expect(await a.tick()).toHaveLength(1);
    expect(await a.tick()).toHaveLength(1);
    expect(await a.tick()).toHaveLength(1);
    expect(await a.tick()).toEqual([]);
    expect(left).toBe(0);

    const b = runner(await handle.another(), 'node-b');
    await b.register({ name: 'demo.batch', everyMs: 60_000, run: async () => undefined });
    expect((await b.get('demo.batch')).nextRunAt).toBe(new Date(ctx.now().getTime() + 60_000).toISOString());
  });

  it('trigger makes a job due now for the whole cluster; only in a transaction that commits', async () => {
    const a = runner(handle.store, 'node-a');
    await a.register({ name: 'demo.trigger', everyMs: HOUR, run: async () => undefined });
    await a.tick();
    await expect(
      handle.store.transaction(async (tx) => {
        await a.triggerIn(tx, 'demo.trigger');
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await a.tick()).toEqual([]);
    const b = runner(await handle.another(), 'node-b');
    await b.register({ name: 'demo.trigger', everyMs: HOUR, run: async () => undefined });
    await a.trigger('demo.trigger');
    expect(await b.tick()).toHaveLength(1);
  });

  it('start() polls on its own, stop() aborts the signal and waits for the run', async () => {
    const a = runner(handle.store, 'node-a');
    let signal: AbortSignal | undefined;
    let finished = false;
    await a.register({
      name: 'demo.poll',
      everyMs: HOUR,
      run: async (run) => {
        signal = run.signal;
        await new Promise<void>((resolve) => run.signal.addEventListener('abort', () => resolve()));
        finished = true;
      },
    });
    a.start();
    await vi.waitFor(() => expect(signal).toBeDefined(), { timeout: 5_000, interval: 10 });
    await a.stop();
    expect(signal!.aborted).toBe(true);
    expect(finished).toBe(true);
    expect(await a.get('demo.poll')).toMatchObject({ runs: 1, claimedBy: null });
  });

  it('refuses bad job names, bad intervals and a name registered twice', async () => {
    const a = runner(handle.store, 'node-a');
    const run = async () => undefined;
    await expect(a.register({ name: 'Bad Name', everyMs: 1_000, run })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(a.register({ name: 'demo.zero', everyMs: 0, run })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await a.register({ name: 'demo.dup', everyMs: 1_000, run });
    await expect(a.register({ name: 'demo.dup', everyMs: 1_000, run })).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
  });
});
