import { afterAll, beforeAll, expect, it, describe } from 'vitest';
import type { RequestMeta } from '../../src/audit/events.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * A person exposed to 10,000 credentials is offboarded to the end on SQLite: the plan is recorded
 * in one transaction, the steps run in batches (one transaction per batch), every key gets exactly
 * one successor. The time is printed (it is not a benchmark: `npm run bench` is).
 */
describe('offboarding a person with 10,000 exposures [sqlite]', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.stop());

  it('finishes, rotating each key exactly once', { timeout: 300_000 }, async () => {
    const { kt } = server;
    const bob = await kt.principals.create({ kind: 'user', name: 'bob' }, { actor: null });
    const billing = await kt.principals.create({ kind: 'service', name: 'billing' }, { actor: null });
    const meta: RequestMeta = { actor: bob.id, actorKind: 'user', sourceIp: null, requestId: null };
    const N = 10_000;
    for (let i = 0; i < N; i += 1000) {
      await kt.store.transaction(async (tx) => {
        for (let j = i; j < i + 1000; j++) await kt.keys.createIn(tx, { owner: billing.id, name: `k${j}`, scopes: ['read'] }, meta);
      });
    }
    expect(Number((await kt.store.get<{ n: number }>("SELECT COUNT(*) AS n FROM exposures WHERE principal_id = ?", [bob.id]))!.n)).toBe(N);

    const started = Date.now();
    const dry = await kt.offboarding.offboard('bob', { dryRun: true }, { actor: null });
    const planned = Date.now();
    const report = await kt.offboarding.offboard('bob', {}, { actor: null });
    const finished = Date.now();
    console.log(`offboarding with ${N} exposures (loaded machine): dry run ${planned - started} ms, real run ${finished - planned} ms`);

    expect(report.status).toBe('done');
    expect(report.counts).toEqual({ rotate_key: N });
    expect(report.done).toBe(N);
    expect(report.steps.map((s) => `${s.action} ${s.target}`)).toEqual(dry.steps.map((s) => `${s.action} ${s.target}`));
    const successors = await kt.store.get<{ keys: number; preds: number }>('SELECT COUNT(*) AS keys, COUNT(DISTINCT predecessor_id) AS preds FROM api_keys WHERE predecessor_id IS NOT NULL');
    expect({ keys: Number(successors!.keys), preds: Number(successors!.preds) }).toEqual({ keys: N, preds: N });
    expect(Number((await kt.store.get<{ n: number }>("SELECT COUNT(*) AS n FROM api_keys WHERE status = 'rotating' AND principal_id = ?", [billing.id]))!.n)).toBe(N);
    expect(Number((await kt.store.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE type = 'key.rotated' AND reason = 'offboarding'"))!.n)).toBe(N);
  });
});
