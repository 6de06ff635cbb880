import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Queryable, Store } from '../store/port.js';

/** What a job may answer: run again before its interval is up (a batch with more to do, the next due item). */
export interface JobResult {
  readonly nextRunAt?: Date;
}

/** One run of a job, as the job sees it. */
export interface JobRun {
  readonly name: string;
  /** The node that holds the run. */
  readonly node: string;
  /**
   * Aborted when this node lost the lease (it could not renew it in time and another node may
   * have taken the job over) or the runner is stopping. Long jobs check it between steps.
   */
  readonly signal: AbortSignal;
  /** Extends the lease now (the runner also does it on its own); `false` when the lease was lost. */
  renew(): Promise<boolean>;
}

/** A named, recurring piece of background work, run by one node of the cluster at a time. */
export interface JobDefinition {
  /** Unique, e.g. `signing.rotate`, `leaks.watch`; `[a-z][a-z0-9_.:-]*`, at most 100 characters. */
  readonly name: string;
  /** Interval between the starts of two runs (ms). A run that was missed (every node down) runs once at the next start. */
  readonly everyMs: number;
  /** How long a run holds its claim without renewal (ms, default one minute); renewed every third of it while it runs. */
  readonly leaseMs?: number;
  run(run: JobRun): Promise<JobResult | void>;
}

/** What one run did. */
export interface JobOutcome {
  readonly name: string;
  readonly node: string;
  readonly ok: boolean;
  /** The error's first line when the run threw. */
  readonly error: string | null;
  /** True when the lease was lost before the run finished: its end was not recorded (another node owns the job now). */
  readonly lost: boolean;
}

/** A job as stored. */
export interface JobView {
  readonly name: string;
  readonly everyMs: number;
  readonly nextRunAt: string;
  /** Node running it now (while its lease holds). */
  readonly claimedBy: string | null;
  readonly claimedUntil: string | null;
  readonly runs: number;
  readonly lastStartedAt: string | null;
  readonly lastFinishedAt: string | null;
  readonly lastError: string | null;
}

/** Where the runner reports what went wrong (a pino logger fits). */
export interface JobLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface JobRunnerOptions {
  readonly store: Store;
  /** Every time the runner reads (due, lease ends) comes from here; timers only pace polling and renewal. */
  readonly ctx: Context;
  /** Identifies this node in claims (default: a new `nod_…` id). */
  readonly nodeId?: string;
  /** How often (real ms) `start()` looks for due jobs. Default 1000. */
  readonly pollMs?: number;
  /** How often (real ms) a running job's lease is renewed; default a third of its lease. */
  readonly renewEveryMs?: number;
  readonly logger?: JobLogger;
}

interface JobRow {
  name: string;
  every_ms: number | string;
  next_run_at: number | string;
  claim_id: string | null;
  claimed_by: string | null;
  claimed_until: number | string | null;
  runs: number | string;
  last_started_at: number | string | null;
  last_finished_at: number | string | null;
  last_error: string | null;
}

interface Running {
  readonly controller: AbortController;
  readonly done: Promise<JobOutcome>;
  again: boolean;
}

const NAME = /^[a-z][a-z0-9_.:-]{0,99}$/;
const DEFAULT_LEASE_MS = 60_000;

const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

function firstLine(err: unknown): string {
  const text = err instanceof KeyturnError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.slice(0, 500);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/**
 * Runs named jobs on a schedule, each run claimed through the store so that one node of a cluster
 * runs it: a conditional `UPDATE jobs … WHERE claimed_until < now` that only one node can win,
 * with a claim id that only the winner knows. The lease is renewed while the job runs; a node
 * that dies stops renewing and, once its lease ends, another node takes the job over. A job whose
 * time passed while every node was down is due at once when one starts (one run, not one per
 * missed interval).
 *
 * @example
 * ```ts
 * const runner = new JobRunner({ store, ctx });
 * await runner.register({ name: 'housekeeping.prune', everyMs: 3_600_000, run: async () => void (await tokens.prune()) });
 * runner.start(); // polls every second; stop() waits for runs in progress
 * ```
 */
export class JobRunner {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #nodeId: string;
  readonly #pollMs: number;
  readonly #renewEveryMs: number | undefined;
  readonly #logger: JobLogger | undefined;
  readonly #jobs = new Map<string, JobDefinition>();
  readonly #running = new Map<string, Running>();
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #started = false;

  constructor(options: JobRunnerOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#nodeId = options.nodeId ?? newId('nod', options.ctx);
    this.#pollMs = options.pollMs ?? 1_000;
    this.#renewEveryMs = options.renewEveryMs;
    this.#logger = options.logger;
  }

  get nodeId(): string {
    return this.#nodeId;
  }

  /**
   * Adds a job on this node (a node only ever runs jobs it registered). The first registration
   * in the cluster makes it due at once; a changed interval takes effect from now.
   */
  async register(job: JobDefinition): Promise<void> {
    if (!NAME.test(job.name)) throw new KeyturnError('ERR_VALIDATION', `job name "${job.name.slice(0, 100)}": use [a-z][a-z0-9_.:-]*`);
    if (!Number.isSafeInteger(job.everyMs) || job.everyMs < 1) throw new KeyturnError('ERR_VALIDATION', `job ${job.name}: everyMs must be a positive integer`);
    if (this.#jobs.has(job.name)) throw new KeyturnError('ERR_CONFLICT', `job ${job.name} is already registered`);
    const now = this.#ctx.now().getTime();
    // Why: one row per job holds its schedule and its claim; a shorter interval pulls the next run in.
    await this.#store.run(
      `INSERT INTO jobs (name, every_ms, next_run_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET every_ms = excluded.every_ms,
         next_run_at = CASE WHEN jobs.next_run_at > ? THEN ? ELSE jobs.next_run_at END`,
      [job.name, job.everyMs, now, now + job.everyMs, now + job.everyMs],
    );
    this.#jobs.set(job.name, job);
  }

  /** Makes `name` due now, for whichever node claims it first. */
  async trigger(name: string): Promise<void> {
    await this.triggerIn(this.#store, name);
  }

  /** {@link trigger} inside a transaction: the job becomes due only if it commits. */
  async triggerIn(db: Queryable, name: string): Promise<void> {
    const now = this.#ctx.now().getTime();
    await db.run('UPDATE jobs SET next_run_at = ? WHERE name = ? AND next_run_at > ?', [now, name, now]);
  }

  /** Every stored job (including ones other nodes registered). */
  async list(): Promise<JobView[]> {
    const rows = await this.#store.all<JobRow>('SELECT * FROM jobs ORDER BY name');
    return rows.map((r) => ({
      name: r.name,
      everyMs: Number(r.every_ms),
      nextRunAt: iso(r.next_run_at)!,
      claimedBy: r.claimed_by,
      claimedUntil: iso(r.claimed_until),
      runs: Number(r.runs),
      lastStartedAt: iso(r.last_started_at),
      lastFinishedAt: iso(r.last_finished_at),
      lastError: r.last_error,
    }));
  }

  /** One job as stored. */
  async get(name: string): Promise<JobView> {
    const view = (await this.list()).find((j) => j.name === name);
    if (!view) throw new KeyturnError('ERR_NOT_FOUND', `no job ${name}`);
    return view;
  }

  /**
   * Claims every due job registered here that no node holds, runs them (concurrently) and resolves
   * with their outcomes once all have finished. `start()` does the same on a timer without waiting.
   */
  async tick(): Promise<JobOutcome[]> {
    const runs = await this.#claimDue();
    return Promise.all(runs);
  }

  /**
   * Runs `name` on this node now, due or not, unless a node holds it. When this node is running it,
   * it runs once more right after. Resolves with the outcome, or `undefined` when another node holds it.
   */
  async runNow(name: string): Promise<JobOutcome | undefined> {
    const running = this.#running.get(name);
    if (running) {
      running.again = true;
      return running.done;
    }
    const claim = await this.#claim(name, false);
    return claim === undefined ? undefined : this.#launch(name, claim);
  }

  /** Wakes `name` on this node if the runner is started (used by change-feed nudges); never throws. */
  nudge(name: string): void {
    if (!this.#started || !this.#jobs.has(name)) return;
    this.runNow(name).catch((err: unknown) => this.#logger?.warn({ err, job: name }, 'job nudge failed'));
  }

  /** Looks for due jobs now and every `pollMs`. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const poll = () => {
      if (this.#polling) return;
      this.#polling = this.#claimDue()
        .then(() => undefined)
        .catch((err: unknown) => this.#logger?.warn({ err }, 'looking for due jobs failed'))
        .finally(() => (this.#polling = undefined));
    };
    this.#timer = setInterval(poll, this.#pollMs);
    this.#timer.unref();
    poll();
  }

  /** Stops polling, tells running jobs (their signal aborts) and waits for them to end. */
  async stop(): Promise<void> {
    this.#started = false;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#polling;
    for (const running of this.#running.values()) {
      running.again = false;
      running.controller.abort(new Error('the job runner is stopping'));
    }
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  async #claimDue(): Promise<Promise<JobOutcome>[]> {
    if (this.#jobs.size === 0) return [];
    const now = this.#ctx.now().getTime();
    const due = await this.#store.all<{ name: string }>(
      'SELECT name FROM jobs WHERE next_run_at <= ? AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY next_run_at, name',
      [now, now],
    );
    const runs: Promise<JobOutcome>[] = [];
    for (const { name } of due) {
      if (!this.#jobs.has(name) || this.#running.has(name)) continue;
      const claim = await this.#claim(name, true);
      if (claim !== undefined) runs.push(this.#launch(name, claim));
    }
    return runs;
  }

  /** The claim: only one node's conditional UPDATE finds the job unheld (and due). Resolves to the claim id. */
  async #claim(name: string, onlyDue: boolean): Promise<string | undefined> {
    const job = this.#jobs.get(name);
    if (!job) throw new KeyturnError('ERR_NOT_FOUND', `no job ${name} on this node`);
    const now = this.#ctx.now().getTime();
    const claimId = hex(this.#ctx.random(16));
    const claimed = await this.#store.run(
      `UPDATE jobs SET claim_id = ?, claimed_by = ?, claimed_until = ?, last_started_at = ?
       WHERE name = ? AND (claimed_until IS NULL OR claimed_until < ?)${onlyDue ? ' AND next_run_at <= ?' : ''}`,
      [claimId, this.#nodeId, now + (job.leaseMs ?? DEFAULT_LEASE_MS), now, name, now, ...(onlyDue ? [now] : [])],
    );
    return claimed.changes === 1 ? claimId : undefined;
  }

  #launch(name: string, claimId: string): Promise<JobOutcome> {
    const controller = new AbortController();
    const running: Running = { controller, again: false, done: undefined as unknown as Promise<JobOutcome> };
    (running as { done: Promise<JobOutcome> }).done = this.#execute(name, claimId, controller).finally(() => {
      this.#running.delete(name);
      if (running.again && this.#jobs.has(name)) this.runNow(name).catch((err: unknown) => this.#logger?.warn({ err, job: name }, 'job rerun failed'));
    });
    this.#running.set(name, running);
    return running.done;
  }

  async #execute(name: string, claimId: string, controller: AbortController): Promise<JobOutcome> {
    const job = this.#jobs.get(name)!;
    const leaseMs = job.leaseMs ?? DEFAULT_LEASE_MS;
    const startedAt = this.#ctx.now().getTime();
    let lost = false;
    const renew = async (): Promise<boolean> => {
      if (lost) return false;
      const held = await this.#store.run('UPDATE jobs SET claimed_until = ? WHERE name = ? AND claim_id = ?', [
        this.#ctx.now().getTime() + leaseMs,
        name,
        claimId,
      ]);
      if (held.changes === 1) return true;
      lost = true;
      this.#logger?.warn({ job: name, node: this.#nodeId }, 'job lease lost; another node may have taken it over');
      controller.abort(new KeyturnError('ERR_CONFLICT', `the lease on job ${name} was lost`));
      return false;
    };
    const renewer = setInterval(
      () => void renew().catch((err: unknown) => this.#logger?.warn({ err, job: name }, 'could not renew a job lease')),
      this.#renewEveryMs ?? Math.max(1_000, Math.floor(leaseMs / 3)),
    );
    renewer.unref();
    let error: string | null = null;
    let result: JobResult | void = undefined;
    try {
      result = await job.run({ name, node: this.#nodeId, signal: controller.signal, renew });
    } catch (err) {
      error = firstLine(err);
      this.#logger?.error({ err, job: name }, 'job failed');
    } finally {
      clearInterval(renewer);
    }
    const now = this.#ctx.now().getTime();
    let next = startedAt + job.everyMs;
    if (result?.nextRunAt) next = Math.min(next, result.nextRunAt.getTime());
    // Only the claim holder records the end; a node that lost its lease leaves the job to its new holder.
    const released = await this.#store
      .run(
        `UPDATE jobs SET claim_id = NULL, claimed_by = NULL, claimed_until = NULL, next_run_at = ?, runs = runs + 1,
           last_finished_at = ?, last_error = ?
         WHERE name = ? AND claim_id = ?`,
        [next, now, error, name, claimId],
      )
      .catch((err: unknown) => {
        this.#logger?.warn({ err, job: name }, 'could not release a job claim (it ends with its lease)');
        return { changes: 0 };
      });
    return { name, node: this.#nodeId, ok: error === null, error, lost: lost || released.changes !== 1 };
  }
}
