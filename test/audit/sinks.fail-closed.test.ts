/**
 * Fail closed, for what the sinks, usage records and detections write: when the event write fails,
 * the change it records does not happen — the cursor does not move, the usage record is not
 * written — and the work is done again later. The failure is planted with an SQLite trigger that
 * aborts inserts of one event type.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DetectionEngine } from '../../src/audit/detections/engine.js';
import { DEFAULT_DETECTION_SETTINGS } from '../../src/audit/detections/rules.js';
import { appendEvent, listEvents, SYSTEM } from '../../src/audit/events.js';
import { readCursor } from '../../src/audit/sinks/cursor.js';
import { SinkDispatcher } from '../../src/audit/sinks/dispatcher.js';
import { buildSink } from '../../src/audit/sinks/sink.js';
import { UsageLog, usageOf } from '../../src/audit/usage.js';
import { manualContext } from '../../src/core/context.js';
import { MIGRATIONS, PRODUCT } from '../../src/runtime/open.js';
import { freshStore, type StoreHandle } from '../support/stores.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('audit streaming fails closed', () => {
  let handle: StoreHandle;
  let dir: string;
  const ctx = manualContext(new Date('2026-12-05T12:00:00Z'));
  const refuse = (type: string) =>
    handle.store.run(`CREATE TRIGGER refuse_${type.replace('.', '_')} BEFORE INSERT ON events WHEN NEW.type = '${type}' BEGIN SELECT RAISE(ABORT, 'event write refused'); END`);
  const allow = (type: string) => handle.store.run(`DROP TRIGGER refuse_${type.replace('.', '_')}`);

  beforeEach(async () => {
    handle = await freshStore('sqlite');
    await handle.store.migrate(MIGRATIONS);
    dir = mkdtempSync(join(tmpdir(), 'keyturn-fail-closed-'));
  });
  afterEach(async () => {
    await handle.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a usage record is not written without its key.used event, and is written by the next flush', async () => {
    const usage = new UsageLog({ store: handle.store, ctx });
    usage.note('key_1', '192.0.2.1');
    await refuse('key.used');
    await expect(usage.flush()).rejects.toThrow(/event write refused/);
    expect(await usageOf(handle.store, 'key_1')).toEqual({ lastUsedAt: null, usedFrom: [] });
    await allow('key.used');
    await usage.flush();
    expect((await usageOf(handle.store, 'key_1')).usedFrom).toEqual([expect.objectContaining({ network: '192.0.2.1', count: 1 })]);
  });

  it('a sink that cannot record going down does not change state; one that cannot record recovering keeps its cursor and sends again', async () => {
    const path = join(dir, 'out.jsonl');
    await handle.store.transaction((tx) => appendEvent(tx, ctx, { type: 'key.revoked', target: 'key_1', outcome: 'success', data: { previous: 'active' } }, SYSTEM));
    // Down: a file under a missing directory cannot be written.
    const broken = new SinkDispatcher({ store: handle.store, ctx, sinks: [buildSink({ kind: 'file', name: 'f', path: join(dir, 'missing', 'x') }, PRODUCT)] });
    await refuse('audit.sink_down');
    await expect(broken.deliver('f')).rejects.toThrow(/event write refused/);
    expect((await readCursor(handle.store, 'f'))!.state).toBe('up');
    await allow('audit.sink_down');
    await broken.deliver('f');
    expect((await readCursor(handle.store, 'f'))!.state).toBe('down');
    // Recovered: the sink works again, but the recovery cannot be recorded.
    const working = new SinkDispatcher({ store: handle.store, ctx, sinks: [buildSink({ kind: 'file', name: 'f', path }, PRODUCT)] });
    ctx.advance(600_000);
    await refuse('audit.sink_recovered');
    await expect(working.deliver('f')).rejects.toThrow(/event write refused/);
    expect((await readCursor(handle.store, 'f'))!).toMatchObject({ position: 0, state: 'down' });
    await allow('audit.sink_recovered');
    await working.deliver('f');
    expect((await readCursor(handle.store, 'f'))!.state).toBe('up');
    // At least once: the first batch was written twice.
    expect(readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq).slice(0, 4)).toEqual([1, 2, 1, 2]);
  });

  it('the detection engine does not move its cursor past findings it could not record', async () => {
    const engine = new DetectionEngine({ store: handle.store, ctx, settings: DEFAULT_DETECTION_SETTINGS, from: 'start' });
    await handle.store.transaction((tx) => appendEvent(tx, ctx, { type: 'policy.weakened', target: 'banking', outcome: 'success', data: { version: 2, changed: ['accessTtl'], weakened: ['accessTtl'] } }, SYSTEM));
    await refuse('detection.finding');
    await expect(engine.run()).rejects.toThrow(/event write refused/);
    expect((await readCursor(handle.store, 'detections'))!.position).toBe(0);
    await allow('detection.finding');
    await engine.run();
    expect((await listEvents(handle.store, { type: 'detection.finding' })).map((e) => e.data['rule'])).toEqual(['policy_weakened']);
  });
});
