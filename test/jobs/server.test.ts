import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { manualContext } from '../../src/core/context.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('the server runs its background work on the job runner', () => {
  let server: TestServer;
  const ctx = manualContext(new Date('2032-04-01T00:00:00Z'));

  beforeAll(async () => {
    // The checkpoint timer at its default (the test server turns it off unless asked).
    server = await startTestServer({ signingKeyRotation: '1d', checkpointInterval: '1m' }, ctx);
  });
  afterAll(async () => server.stop());

  it('registers rotation, pruning, audit checkpoints, the leak watch scheduler, outbox delivery and offboarding, and runs each once at start', async () => {
    const runner = server.kt.jobs.runner;
    await vi.waitFor(async () => expect((await runner.list()).every((j) => j.runs >= 1)).toBe(true), { timeout: 10_000, interval: 20 });
    expect((await runner.list()).map((j) => [j.name, j.everyMs, j.lastError])).toEqual([
      ['audit.checkpoint', 60_000, null], // audit.checkpointInterval
      [expect.stringMatching(/^audit\.usage\.[0-9a-f]{16}$/), 300_000, null], // this node's usage counts
      ['housekeeping.prune', 3_600_000, null], // a tenth of the rotation interval, at most an hour
      ['leaks.watch', 60_000, null],
      ['outbox.deliver', 5_000, null],
      ['principals.offboard', 30_000, null], // finishes offboardings (after a crash, or longer than a request)
      ['rotation.schedule', 60_000, null],
      ['signing.rotate', 3_600_000, null],
    ]);
  });

  it('rotates signing keys on schedule with the injected clock', async () => {
    const activeKids = async () => (await server.kt.oauth.ring.list()).filter((k) => k.status === 'active').map((k) => k.kid);
    const before = await activeKids();
    ctx.advance(86_400_000);
    await vi.waitFor(async () => expect((await activeKids()).some((kid) => before.includes(kid))).toBe(false), { timeout: 10_000, interval: 20 });
  });
});
