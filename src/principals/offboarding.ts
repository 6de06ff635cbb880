import { z } from 'zod';
import { appendEvent, type RequestMeta } from '../audit/index.js';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { isLive, PRINCIPAL_LIFECYCLE, transition } from '../core/lifecycle.js';
import { validate } from '../core/validate.js';
import type { Queryable, Store, Transaction } from '../store/port.js';
import { exposuresOf, markOffboardedIn, type Exposure, type Principal, type PrincipalService } from './service.js';

/**
 * Offboarding a person: everything they hold stops, everything they saw is rotated, and the
 * principal is `offboarded` for good. Run as a durable job: the plan is computed and recorded in
 * the transaction that marks the principal offboarded (so from that commit on, nothing they hold
 * verifies), then its steps are done in batches, each step claimed through the store by a
 * conditional update of its done marker in the transaction that does it. A crash rolls the batch
 * in progress back and the next run (the runner's job, on any node, or the caller again) goes on
 * from the first step not done: every step is done exactly once.
 *
 * The credentials themselves belong to other capabilities: they take part through
 * {@link OffboardingParticipant}s the composition root passes (keys, OAuth), so this file never
 * reads their tables.
 */

/** What one offboarding step does, in the order a plan runs them. */
export const OFFBOARDING_ACTIONS = [
  /** An API key the person holds: revoked. */
  'revoke_key',
  /** A refresh-token family (grant) of the person, or of a client they own (whoever it was issued for): revoked, with its access tokens. */
  'revoke_grant',
  /** An access token of the person not in one of those families: revoked. */
  'revoke_access_token',
  /** An OAuth client the person owns: disabled (no `transferTo`). */
  'disable_client',
  /** An OAuth client the person owns: handed over to `transferTo`. */
  'transfer_client',
  /** An API key of someone else the person created or revealed: rotated with its policy's grace, the successor sealed for an administrator. */
  'rotate_key',
  /** A client secret the person created or revealed (a client still working): rotated with its policy's grace, the new one sealed for an administrator. */
  'rotate_client_secret',
] as const;
export type OffboardingAction = (typeof OFFBOARDING_ACTIONS)[number];

/** One step of a plan: an action on one credential (its id). */
export interface PlannedStep {
  readonly action: OffboardingAction;
  readonly target: string;
}

/** What the participants plan from and act for. */
export interface OffboardingSubject {
  readonly principal: Principal;
  readonly transferTo: Principal | null;
  /** Every credential the person was exposed to, once each. */
  readonly exposures: readonly Exposure[];
}

/** What a step did: `done` with what it produced (a successor's id), or `skipped` and why. */
export interface StepResult {
  readonly outcome: 'done' | 'skipped';
  readonly detail: Record<string, string | null>;
}

/**
 * A capability taking part in offboarding (dependency inversion: keys and OAuth implement it,
 * the runtime passes them in). `plan` reads in `db` the steps it owns; `apply` does one of them
 * inside the step's transaction, recording its own event(s) with reason `offboarding`.
 */
export interface OffboardingParticipant {
  readonly actions: readonly OffboardingAction[];
  plan(db: Queryable, subject: OffboardingSubject, now: number): Promise<PlannedStep[]>;
  apply(tx: Transaction, step: PlannedStep, subject: OffboardingSubject, meta: RequestMeta): Promise<StepResult>;
}

/** `POST /v1/principals/:id/offboard`. */
export const offboardSchema = z
  .strictObject({
    dryRun: z.boolean().optional(),
    /** Principal (id or name) that receives the OAuth clients the person owns; without it they are disabled. */
    transferTo: z.string().min(1).max(128).optional(),
  })
  .nullish();

/** One step as reported: the plan's, and once done what it did. */
export interface OffboardingStepView {
  readonly seq: number;
  readonly action: OffboardingAction;
  readonly target: string;
  readonly outcome: 'done' | 'skipped' | null;
  readonly detail: Record<string, string | null> | null;
}

/** What `offboard` answers: the plan (`dryRun`), or the recorded offboarding with what each step did. */
export interface OffboardingReport {
  /** `null` for a dry run (nothing recorded). */
  readonly id: string | null;
  readonly principal: string;
  readonly principalName: string;
  readonly transferTo: string | null;
  readonly dryRun: boolean;
  readonly status: 'planned' | 'running' | 'done';
  /** How many steps of each action the plan has. */
  readonly counts: Partial<Record<OffboardingAction, number>>;
  readonly done: number;
  readonly skipped: number;
  readonly steps: readonly OffboardingStepView[];
}

interface OffboardingRow {
  id: string;
  principal_id: string;
  transfer_to: string | null;
  status: 'running' | 'done';
  steps: number | string;
  requested_by: string | null;
  created_at: number | string;
  finished_at: number | string | null;
}

interface StepRow {
  seq: number | string;
  action: OffboardingAction;
  target: string;
  done_at: number | string | null;
  outcome: 'done' | 'skipped' | null;
  result: string | null;
}

/** The runner's name for the job that finishes offboardings (after a crash, or started elsewhere). */
export const OFFBOARDING_JOB = 'principals.offboard';

/** Errors a step meets when its credential changed since the plan: the step is skipped (recorded why), not retried. */
const SKIPPABLE = new Set(['ERR_KEY_STATE', 'ERR_CREDENTIAL_STATE', 'ERR_PRINCIPAL_INACTIVE', 'ERR_NOT_FOUND']);

const ORDER = new Map(OFFBOARDING_ACTIONS.map((a, i) => [a, i]));

export interface OffboardingServiceOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly principals: PrincipalService;
  readonly participants: readonly OffboardingParticipant[];
  /** Steps done per transaction (default 200). */
  readonly batch?: number;
  /** Called in the transaction that records a new offboarding (the runtime wakes the job with it). */
  readonly wake?: (db: Queryable) => Promise<void>;
}

/**
 * Offboarding: plan (`dryRun`), record and run. `offboard` with `dryRun` answers exactly the plan
 * the real call then records and carries out (both are computed by one function from the same
 * state); a test compares them.
 *
 * @example
 * ```ts
 * const plan = await offboarding.offboard('alice', { dryRun: true }, meta);
 * const report = await offboarding.offboard('alice', { transferTo: 'platform' }, meta); // runs to the end
 * ```
 */
export class OffboardingService {
  readonly #o: OffboardingServiceOptions;
  readonly #batch: number;
  readonly #byAction = new Map<OffboardingAction, OffboardingParticipant>();

  constructor(options: OffboardingServiceOptions) {
    this.#o = options;
    this.#batch = options.batch ?? 200;
    for (const p of options.participants) for (const a of p.actions) this.#byAction.set(a, p);
  }

  /**
   * Offboards a principal (id or name). Bad input changes nothing: an unknown principal or
   * `transferTo` is `ERR_NOT_FOUND`; a principal already offboarded (or being offboarded) is
   * `ERR_CREDENTIAL_STATE`; a `transferTo` that is not active is `ERR_PRINCIPAL_INACTIVE`, the
   * person themself `ERR_VALIDATION`. A dry run answers the plan; a real one records it, marks the
   * principal offboarded and (unless `run: false`) carries it out before answering — for at most
   * `budgetMs` (real time) when given: what is left is finished by the job ({@link OFFBOARDING_JOB})
   * and the answer says `running` (the HTTP edge gives a budget, so a long offboarding never holds
   * a request open; the CLI then follows it to its end).
   */
  async offboard(idOrName: string, input: unknown, meta: RequestMeta, options: { run?: boolean; budgetMs?: number } = {}): Promise<OffboardingReport> {
    const data = validate(offboardSchema, input) ?? {};
    if (data.dryRun === true) {
      const { subject, steps } = await this.#plan(this.#o.store, idOrName, data.transferTo);
      return this.#planned(subject, steps);
    }
    const id = await this.#o.store.transaction(async (tx) => {
      const { subject, steps } = await this.#plan(tx, idOrName, data.transferTo);
      const offboardingId = newId('obd', this.#o.ctx);
      const now = this.#o.ctx.now().getTime();
      await markOffboardedIn(tx, subject.principal);
      // Why: the plan is recorded before any step runs, so a crash resumes it rather than re-planning.
      await tx.run('INSERT INTO offboardings (id, principal_id, transfer_to, status, steps, requested_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        offboardingId,
        subject.principal.id,
        subject.transferTo?.id ?? null,
        'running',
        steps.length,
        meta.actor,
        now,
      ]);
      for (let i = 0; i < steps.length; i += 500) {
        const chunk = steps.slice(i, i + 500);
        await tx.run(
          `INSERT INTO offboarding_steps (offboarding_id, seq, action, target) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}`,
          chunk.flatMap((s, j) => [offboardingId, i + j + 1, s.action, s.target]),
        );
      }
      await appendEvent(
        tx,
        this.#o.ctx,
        {
          type: 'principal.offboarding_started',
          target: subject.principal.id,
          outcome: 'success',
          data: { offboarding: offboardingId, previous: subject.principal.status, transferTo: subject.transferTo?.id ?? null, steps: steps.length, counts: countsOf(steps) },
        },
        meta,
      );
      await this.#o.wake?.(tx);
      return offboardingId;
    });
    if (options.run === false) return this.report(id);
    return this.run(id, { meta, ...(options.budgetMs === undefined ? {} : { until: Date.now() + options.budgetMs }) });
  }

  /** The plan for `idOrName`, read in `db`, checking the input as {@link offboard} says. */
  async #plan(db: Queryable, idOrName: string, transferTo: string | undefined): Promise<{ subject: OffboardingSubject; steps: PlannedStep[] }> {
    const principal = await this.#o.principals.get(idOrName, db);
    transition(PRINCIPAL_LIFECYCLE, principal.status, 'offboard');
    let to: Principal | null = null;
    if (transferTo !== undefined) {
      const found = await this.#o.principals.find(transferTo, db);
      if (!found) throw new KeyturnError('ERR_NOT_FOUND', 'transferTo: no such principal');
      if (found.id === principal.id) throw new KeyturnError('ERR_VALIDATION', 'transferTo: a principal cannot hand its clients over to itself');
      if (!isLive(PRINCIPAL_LIFECYCLE, found.status)) throw new KeyturnError('ERR_PRINCIPAL_INACTIVE', `transferTo: ${found.name} is ${found.status}`);
      to = found;
    }
    const subject: OffboardingSubject = { principal, transferTo: to, exposures: await exposuresOf(db, principal.id) };
    const now = this.#o.ctx.now().getTime();
    const steps: PlannedStep[] = [];
    for (const p of this.#o.participants) steps.push(...(await p.plan(db, subject, now)));
    // One order, whoever planned: by action, then by credential id.
    steps.sort((a, b) => ORDER.get(a.action)! - ORDER.get(b.action)! || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
    return { subject, steps };
  }

  #planned(subject: OffboardingSubject, steps: readonly PlannedStep[]): OffboardingReport {
    return {
      id: null,
      principal: subject.principal.id,
      principalName: subject.principal.name,
      transferTo: subject.transferTo?.id ?? null,
      dryRun: true,
      status: 'planned',
      counts: countsOf(steps),
      done: 0,
      skipped: 0,
      steps: steps.map((s, i) => ({ seq: i + 1, action: s.action, target: s.target, outcome: null, detail: null })),
    };
  }

  /**
   * Carries out the steps of offboarding `id` not done yet, `batch` per transaction, then records
   * its end (`principal.offboarded`, once). Safe to run on several nodes at once and after a
   * crash: a step is claimed by the conditional update of its done marker in the transaction that
   * does it, and a batch that meets a step another node did is rolled back and read again.
   */
  async run(id: string, options: { signal?: AbortSignal; meta?: RequestMeta; until?: number } = {}): Promise<OffboardingReport> {
    const row = await this.#row(this.#o.store, id);
    const principal = await this.#o.principals.byId(row.principal_id);
    const transferTo = row.transfer_to === null ? null : ((await this.#o.principals.byId(row.transfer_to)) ?? null);
    if (!principal) throw new KeyturnError('ERR_NOT_FOUND', 'the offboarded principal is missing');
    // The participants act from the recorded plan; exposures are not read again.
    const subject: OffboardingSubject = { principal, transferTo, exposures: [] };
    // No person is recorded as exposed to successors: they are sealed, and whoever collects them is recorded then.
    const meta: RequestMeta = { actor: options.meta?.actor ?? row.requested_by, actorKind: null, sourceIp: options.meta?.sourceIp ?? null, requestId: options.meta?.requestId ?? null };
    for (;;) {
      if (options.signal?.aborted || (options.until !== undefined && Date.now() >= options.until)) return this.report(id);
      const pending = await this.#o.store.all<StepRow>('SELECT * FROM offboarding_steps WHERE offboarding_id = ? AND done_at IS NULL ORDER BY seq LIMIT ?', [id, this.#batch]);
      if (pending.length === 0) break;
      try {
        await this.#o.store.transaction(async (tx) => {
          const now = this.#o.ctx.now().getTime();
          for (const step of pending) {
            const claimed = await tx.run('UPDATE offboarding_steps SET done_at = ? WHERE offboarding_id = ? AND seq = ? AND done_at IS NULL', [now, id, step.seq]);
            if (claimed.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'another run did this step');
            const result = await this.#apply(tx, { action: step.action, target: step.target }, subject, meta);
            await tx.run('UPDATE offboarding_steps SET outcome = ?, result = ? WHERE offboarding_id = ? AND seq = ?', [result.outcome, JSON.stringify(result.detail), id, step.seq]);
          }
        });
      } catch (err) {
        if (err instanceof KeyturnError && err.code === 'ERR_CONFLICT') continue;
        throw err;
      }
    }
    await this.#o.store.transaction(async (tx) => {
      const finished = await tx.run("UPDATE offboardings SET status = 'done', finished_at = ? WHERE id = ? AND status = 'running'", [this.#o.ctx.now().getTime(), id]);
      if (finished.changes !== 1) return;
      const counts = await tx.all<{ outcome: string; n: number | string }>('SELECT outcome, COUNT(*) AS n FROM offboarding_steps WHERE offboarding_id = ? GROUP BY outcome', [id]);
      const n = (o: string) => Number(counts.find((c) => c.outcome === o)?.n ?? 0);
      await appendEvent(
        tx,
        this.#o.ctx,
        { type: 'principal.offboarded', target: row.principal_id, outcome: 'success', data: { offboarding: id, steps: Number(row.steps), done: n('done'), skipped: n('skipped') } },
        meta,
      );
    });
    return this.report(id);
  }

  async #apply(tx: Transaction, step: PlannedStep, subject: OffboardingSubject, meta: RequestMeta): Promise<StepResult> {
    const participant = this.#byAction.get(step.action);
    if (!participant) throw new KeyturnError('ERR_CONFIG', `no participant does offboarding step ${step.action}`);
    try {
      return await participant.apply(tx, step, subject, meta);
    } catch (err) {
      // The credential changed since the plan (revoked meanwhile, its owner left too): recorded as skipped.
      if (err instanceof KeyturnError && SKIPPABLE.has(err.code)) return { outcome: 'skipped', detail: { reason: `${err.code}: ${err.message}` } };
      throw err;
    }
  }

  /** Runs every offboarding not finished (the job, and a node starting after a crash). */
  async runPending(signal?: AbortSignal): Promise<number> {
    const running = await this.#o.store.all<{ id: string }>("SELECT id FROM offboardings WHERE status = 'running' ORDER BY created_at, id");
    for (const { id } of running) {
      if (signal?.aborted) break;
      await this.run(id, signal ? { signal } : {});
    }
    return running.length;
  }

  async #row(db: Queryable, id: string): Promise<OffboardingRow> {
    const row = await db.get<OffboardingRow>('SELECT * FROM offboardings WHERE id = ?', [id]);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such offboarding');
    return row;
  }

  /** An offboarding as recorded: its plan and what each step did so far. */
  async report(id: string): Promise<OffboardingReport> {
    const row = await this.#row(this.#o.store, id);
    const principal = await this.#o.principals.byId(row.principal_id);
    const steps = await this.#o.store.all<StepRow>('SELECT * FROM offboarding_steps WHERE offboarding_id = ? ORDER BY seq', [id]);
    const views = steps.map((s) => ({
      seq: Number(s.seq),
      action: s.action,
      target: s.target,
      outcome: s.outcome,
      detail: s.result === null ? null : (JSON.parse(s.result) as Record<string, string | null>),
    }));
    return {
      id,
      principal: row.principal_id,
      principalName: principal?.name ?? row.principal_id,
      transferTo: row.transfer_to,
      dryRun: false,
      status: row.status,
      counts: countsOf(views),
      done: views.filter((v) => v.outcome === 'done').length,
      skipped: views.filter((v) => v.outcome === 'skipped').length,
      steps: views,
    };
  }

  /** The offboarding of a principal (id or name), if it was offboarded. */
  async ofPrincipal(idOrName: string): Promise<OffboardingReport> {
    const principal = await this.#o.principals.get(idOrName);
    const row = await this.#o.store.get<{ id: string }>('SELECT id FROM offboardings WHERE principal_id = ?', [principal.id]);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', `${principal.name} was not offboarded`);
    return this.report(row.id);
  }
}

function countsOf(steps: readonly { action: OffboardingAction }[]): Partial<Record<OffboardingAction, number>> {
  const counts: Partial<Record<OffboardingAction, number>> = {};
  for (const s of steps) counts[s.action] = (counts[s.action] ?? 0) + 1;
  return counts;
}

/** The job that finishes every offboarding not done (a crash, a caller that went away), on one node at a time. */
export function offboardingJob(service: OffboardingService, everyMs: number): { name: string; everyMs: number; leaseMs: number; run(run: { signal: AbortSignal }): Promise<void> } {
  return {
    name: OFFBOARDING_JOB,
    everyMs,
    leaseMs: 15_000,
    run: async (run) => {
      await service.runPending(run.signal);
    },
  };
}
