/**
 * Paces background work that comes in steps (scheduled rotation's transactions) so that it takes
 * at most a share of the process, counting the work each step leaves behind.
 *
 * A step's own wall time `w` is known when it returns. What it triggers runs later, on the same
 * event loop, while the pacer waits: the audit checkpoint job hashing the new events into the
 * Merkle tree, change-feed invalidations, outbox deliveries, garbage collection on the main
 * thread. The pacer measures the event loop's busy time during its pause (`busyMs`, by default
 * `performance.eventLoopUtilization().active`) and counts it as the step's, so that
 * `w + busy ≤ share × (w + pause)`: the pause is `w × (1 − share) / share + busy / share`.
 * With nothing busy in the pause this is exactly the plain pause of `w × (1 − share) / share`.
 *
 * The busy time cannot be told apart from other work of the process (verification requests):
 * while those keep the loop busy the pause grows too, so rotation yields to them, and never takes
 * more than its share. So that it is never starved, the pause is at most what gives the step a
 * quarter of its share (`floor`): with the default share of 0.2, rotation keeps at least 5% of a
 * saturated process, and an idle one rotates at its full share.
 */

/** What the pacer reads and how it waits: injected in tests, so that no assertion depends on wall-clock speed. */
export interface PacerClock {
  /** A monotonic clock, in ms. */
  now(): number;
  /** The event loop's busy time so far, in ms (monotonic; only differences are used). */
  busyMs(): number;
  /** Resolves after `ms` (at least one turn of the event loop, even for 0). */
  sleep(ms: number): Promise<void>;
}

/** Measures with `performance.now()` and the event loop utilization of this process. */
export const processPacerClock: PacerClock = {
  now: () => performance.now(),
  busyMs: () => performance.eventLoopUtilization().active,
  sleep: (ms) => new Promise<void>((resolve) => (ms >= 1 ? setTimeout(resolve, ms) : setImmediate(resolve))),
};

/** What one pause was: its length, and the busy time it counted as the step's. */
export interface Pause {
  readonly stepMs: number;
  readonly pausedMs: number;
  readonly busyMs: number;
}

/** What one step of scheduled rotation did: credentials rotated, and due ones it left (claimed elsewhere, refused). */
export interface ChunkCounts {
  readonly rotated: number;
  readonly skipped: number;
}

/** The least fraction of its share a step keeps however busy the process is (see the module comment). */
export const PACING_FLOOR = 0.25;

/** At most this many re-measurements per pause (each one waits for the busy time the previous wait found). */
const MAX_EXTENSIONS = 8;

export class Pacer {
  readonly #share: number;
  readonly #clock: PacerClock;

  /** `share` in (0, 1] (clamped to [0.01, 1]); `1`: no pause beyond a turn of the event loop. */
  constructor(share: number, clock: PacerClock = processPacerClock) {
    this.#share = Math.min(Math.max(share, 0.01), 1);
    this.#clock = clock;
  }

  /** Runs `step`, then waits as long as the step and the work measured after it allow (see the module comment). */
  async run<T>(step: () => Promise<T>): Promise<{ result: T; pause: Pause }> {
    const began = this.#clock.now();
    const result = await step();
    return { result, pause: await this.pauseAfter(this.#clock.now() - began) };
  }

  /**
   * Runs `step` on `items` in slices of `size`, one after another, pacing after each (see
   * {@link run}); resolves to the sums of what the steps counted.
   */
  async runChunks<T>(items: readonly T[], size: number, step: (chunk: T[]) => Promise<ChunkCounts>): Promise<ChunkCounts> {
    let rotated = 0;
    let skipped = 0;
    for (let start = 0; start < items.length; start += size) {
      const { result } = await this.run(() => step(items.slice(start, start + size)));
      rotated += result.rotated;
      skipped += result.skipped;
    }
    return { rotated, skipped };
  }

  /** Waits after a step that took `stepMs`. */
  async pauseAfter(stepMs: number): Promise<Pause> {
    const share = this.#share;
    if (share >= 1) {
      await this.#clock.sleep(0);
      return { stepMs, pausedMs: 0, busyMs: 0 };
    }
    const start = this.#clock.now();
    const busyStart = this.#clock.busyMs();
    const floor = share * PACING_FLOOR;
    const longest = (stepMs * (1 - floor)) / floor;
    let target = (stepMs * (1 - share)) / share;
    let paused = 0;
    let busy = 0;
    for (let i = 0; i <= MAX_EXTENSIONS; i++) {
      await this.#clock.sleep(Math.max(target - paused, 0));
      paused = this.#clock.now() - start;
      busy = Math.max(this.#clock.busyMs() - busyStart, 0);
      // `stepMs + busy ≤ share × (stepMs + pause)`; the busy time happened within the pause.
      target = Math.min((stepMs * (1 - share)) / share + busy / share, longest);
      if (paused >= target - 1) break;
    }
    return { stepMs, pausedMs: paused, busyMs: busy };
  }
}
