import type { JobDefinition, JobLogger } from '../jobs/index.js';

/** The runner's name for scheduled rotation. */
export const ROTATION_JOB = 'rotation.schedule';

/** What the scheduler works on: one kind of credential's due work (API keys, client secrets), in batches. */
export interface RotationWork {
  rotateDue(limit: number): Promise<{ rotated: number; skipped: number; more: boolean }>;
  settleDeadlines(limit: number): Promise<{ retired: number; flagged: number; more: boolean }>;
  /** Tells owners what comes within `windowMs` (`key.rotation_due` / `key.expiring`, `client.secret_rotation_due` / `client.secret_expiring` webhooks), once per credential per deadline. */
  noticeDue?(limit: number, windowMs: number): Promise<{ noticed: number; more: boolean }>;
}

/** What one run did. */
export interface RotationRun {
  readonly rotated: number;
  readonly skipped: number;
  readonly retired: number;
  readonly flagged: number;
  readonly noticed: number;
}

/**
 * Runs one pass: tells owners of rotations and expiries coming within `noticeWindowMs` (when
 * given; before rotating, so a key already due is announced before it is rotated), rotates every key whose rotation is due, then retires rotated keys at the end of
 * their grace and reports passed deadlines, `batch` at a time until none is left (or the run's
 * lease is lost). Everything due since the last run is done, however long ago that was: a process
 * that was down catches up on start.
 */
export async function rotateAllDue(
  works: RotationWork | readonly RotationWork[],
  options: { batch?: number; signal?: AbortSignal; noticeWindowMs?: number } = {},
): Promise<RotationRun> {
  let rotated = 0;
  let skipped = 0;
  let retired = 0;
  let flagged = 0;
  let noticed = 0;
  for (const work of Array.isArray(works) ? (works as readonly RotationWork[]) : [works as RotationWork]) {
    const done = await rotateOne(work, options);
    rotated += done.rotated;
    skipped += done.skipped;
    retired += done.retired;
    flagged += done.flagged;
    noticed += done.noticed;
  }
  return { rotated, skipped, retired, flagged, noticed };
}

async function rotateOne(work: RotationWork, options: { batch?: number; signal?: AbortSignal; noticeWindowMs?: number }): Promise<RotationRun> {
  const batch = options.batch ?? 500;
  let noticed = 0;
  if (work.noticeDue && options.noticeWindowMs !== undefined) {
    for (;;) {
      if (options.signal?.aborted) break;
      const n = await work.noticeDue(batch, options.noticeWindowMs);
      noticed += n.noticed;
      if (!n.more || n.noticed === 0) break;
    }
  }
  let rotated = 0;
  let skipped = 0;
  let retired = 0;
  let flagged = 0;
  for (;;) {
    if (options.signal?.aborted) break;
    const r = await work.rotateDue(batch);
    rotated += r.rotated;
    skipped += r.skipped;
    if (!r.more || r.rotated + r.skipped === 0) break;
  }
  for (;;) {
    if (options.signal?.aborted) break;
    const s = await work.settleDeadlines(batch);
    retired += s.retired;
    flagged += s.flagged;
    if (!s.more || s.retired + s.flagged === 0) break;
  }
  return { rotated, skipped, retired, flagged, noticed };
}

/**
 * The scheduled rotation job: run by one node of the cluster at a time (the runner claims it
 * through the store), and each key is rotated by a conditional update only one node can win, so
 * with any number of processes on one PostgreSQL each credential is rotated exactly once.
 */
export function rotationJob(work: RotationWork | readonly RotationWork[], everyMs: number, logger?: JobLogger, options: { noticeWindowMs?: number } = {}): JobDefinition {
  return {
    name: ROTATION_JOB,
    everyMs,
    // Renewed every 5 s while it runs; a node killed in the middle leaves the rest to the next node (or its own restart) 15 s later.
    leaseMs: 15_000,
    run: async (run) => {
      const done = await rotateAllDue(work, { signal: run.signal, ...(options.noticeWindowMs === undefined ? {} : { noticeWindowMs: options.noticeWindowMs }) });
      if (done.rotated + done.retired + done.flagged + done.noticed > 0) logger?.info({ ...done, node: run.node }, 'scheduled rotation');
    },
  };
}
