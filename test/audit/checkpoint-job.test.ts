/**
 * The running server seals its log (issue 12 item 5): a checkpoint once `checkpointEvery` events
 * were committed, and on the `checkpointInterval` timer; each is an `audit.checkpoint` event that
 * readers of `GET /v1/events` (and so the sinks) receive, and the log verifies.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import { parseVerifierKey, verifyCheckpoint } from '../../src/audit/checkpoint.js';
import { verifyAudit } from '../../src/runtime/audit-verify.js';
import { loadConfig } from '../../src/config/load.js';
import { auditVerifierKey } from '../../src/runtime/audit-verify.js';
import { startTestServer, type TestServer } from '../support/server.js';

let kt: TestServer | undefined;
afterEach(async () => {
  await kt?.stop();
  kt = undefined;
});

async function checkpoints(server: TestServer): Promise<{ seq: number; target: string; data: { size: number; lastSeq: number; note: string } }[]> {
  return (await server.api('GET', '/v1/events?type=audit.checkpoint&limit=1000')).body.items;
}

async function until<T>(what: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await what();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('timed out');
    await sleep(50);
  }
}

it('every N events: a checkpoint event follows, signed by the log key, and the log verifies', async () => {
  kt = await startTestServer({ checkpointEvery: 5, checkpointInterval: 0 });
  const server = kt;
  // The job also runs once at start (sealing the bootstrap events); with the timer off (a day),
  // a later checkpoint covering the new events comes from the count alone.
  for (let i = 0; i < 6; i++) expect((await server.api('POST', '/v1/principals', { kind: 'service', name: `svc-${i}` })).status).toBe(201);
  const created = (await server.api('GET', '/v1/events?type=principal.created&limit=1000')).body.items as { seq: number }[];
  const fifth = created.filter((e) => e.seq > 0)[4]!.seq;
  const first = await until(async () => (await checkpoints(server)).find((c) => c.data.lastSeq >= fifth));
  const config = loadConfig({ flags: { dataDir: server.dataDir } });
  const vkey = auditVerifierKey(config);
  const opened = verifyCheckpoint(first!.data.note, { origin: first!.target, verifiers: [parseVerifierKey(vkey)] });
  expect(opened.ok).toBe(true);
  const report = await verifyAudit(config);
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.checkpoints).toBeGreaterThanOrEqual(1);
});

it('every T: with the count off, the timer seals new events; an idle log gets no further checkpoint', async () => {
  // Usage records off: the admin key's use would otherwise be written (`key.used`) on the usage
  // interval, a new event the timer then rightly seals — the log would not be idle.
  kt = await startTestServer({ checkpointEvery: 0, checkpointInterval: '1s', usageInterval: 0 });
  const server = kt;
  expect((await server.api('POST', '/v1/principals', { kind: 'service', name: 'timed' })).status).toBe(201);
  const [event] = (await server.api('GET', '/v1/events?type=principal.created&limit=1000')).body.items.slice(-1) as { seq: number }[];
  await until(async () => ((await checkpoints(server)).some((c) => c.data.lastSeq >= event!.seq) ? true : undefined));
  const count = (await checkpoints(server)).length;
  await sleep(2500);
  expect((await checkpoints(server)).length).toBe(count);
});
