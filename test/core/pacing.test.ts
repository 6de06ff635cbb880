import { describe, expect, it } from 'vitest';
import { PACING_FLOOR, Pacer, type PacerClock } from '../../src/core/pacing.js';

/**
 * A clock that only moves when told: a step takes `stepMs`, each wait advances it by the time
 * waited, and `followOn(waited, n)` says how much of that wait the event loop was busy (the work
 * the step triggered, other requests). Nothing here depends on how fast the machine is.
 */
function fakeClock(followOn: (waitedMs: number, wait: number) => number = () => 0) {
  let t = 0;
  let busy = 0;
  const waits: number[] = [];
  const clock: PacerClock = {
    now: () => t,
    busyMs: () => busy,
    sleep: async (ms) => {
      waits.push(ms);
      t += ms;
      busy += Math.min(followOn(ms, waits.length), ms);
    },
  };
  return { clock, waits, step: (ms: number) => async () => void (t += ms) };
}

describe('Pacer', () => {
  it('with nothing busy in the pause, waits the step times (1 − share) / share, as the plain pacing did', async () => {
    const f = fakeClock();
    const pacer = new Pacer(0.2, f.clock);
    const { pause } = await pacer.run(f.step(10));
    expect(f.waits).toEqual([40]);
    expect(pause).toEqual({ stepMs: 10, pausedMs: 40, busyMs: 0 });
    await new Pacer(0.5, f.clock).run(f.step(30));
    expect(f.waits).toEqual([40, 30]);
  });

  it('counts the work the step triggered during the pause as the step’s: the pause grows by busy / share', async () => {
    // The audit checkpoint runs for 6 ms right after the chunk (during the first wait), nothing after.
    const f = fakeClock((_ms, n) => (n === 1 ? 6 : 0));
    const { pause } = await new Pacer(0.2, f.clock).run(f.step(10));
    // 10 + 6 ≤ 0.2 × (10 + pause)  ⇒  pause = 40 + 6 / 0.2 = 70.
    expect(f.waits).toEqual([40, 30]);
    expect(pause).toEqual({ stepMs: 10, pausedMs: 70, busyMs: 6 });
    // The step and its follow-on work together took exactly the share of the window.
    expect((pause.stepMs + pause.busyMs) / (pause.stepMs + pause.pausedMs)).toBeCloseTo(0.2, 10);
  });

  it('follow-on work that keeps coming is waited for again, each time it is measured', async () => {
    const f = fakeClock((_ms, n) => (n <= 2 ? 4 : 0));
    const { pause } = await new Pacer(0.25, f.clock).run(f.step(12));
    // 36, then +4/0.25 = 16 more, then +16 more for the second 4 ms.
    expect(f.waits).toEqual([36, 16, 16]);
    expect(pause.busyMs).toBe(8);
  });

  it('a process kept busy by other work (verification) holds rotation back, but never below a quarter of its share', async () => {
    const f = fakeClock((ms) => ms); // busy the whole time it waits
    const share = 0.2;
    const { pause } = await new Pacer(share, f.clock).run(f.step(10));
    const floor = share * PACING_FLOOR;
    expect(pause.pausedMs).toBeCloseTo((10 * (1 - floor)) / floor, 6); // 190 ms: rotation keeps 5%
    expect(pause.stepMs / (pause.stepMs + pause.pausedMs)).toBeCloseTo(floor, 6);
    expect(f.waits.length).toBeLessThanOrEqual(9);
  });

  it('share 1: no pause beyond one turn of the event loop, whatever is busy', async () => {
    const f = fakeClock((ms) => ms);
    const { pause } = await new Pacer(1, f.clock).run(f.step(10));
    expect(f.waits).toEqual([0]);
    expect(pause.pausedMs).toBe(0);
  });

  it('returns the step’s result and lets its error through without pausing', async () => {
    const f = fakeClock();
    const pacer = new Pacer(0.2, f.clock);
    expect((await pacer.run(async () => 'done')).result).toBe('done');
    await expect(pacer.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(f.waits).toEqual([0]);
  });
});
