/**
 * The detection engine: a job (`audit.detections`, claimed once per cluster) that follows the
 * event log with its own durable cursor, feeds each event to the rules in order, and records each
 * finding as a `detection.finding` event (OCSF 2004 Detection Finding) — in the same transaction
 * that moves the cursor, so a finding is recorded exactly once. Rules named in `suspendOn` also
 * act on the credential a finding names — suspend the key, revoke the refresh family, disable the
 * client — before the finding is recorded; the finding says whether it did.
 *
 * Rules keep their windows in memory. When a node takes the job over (or starts), it first replays
 * the last `warmupEvents` events before the cursor without recording anything, so a window that
 * straddles the takeover still counts.
 */
import type { Context } from '../../core/context.js';
import type { JobDefinition, JobResult, JobRun } from '../../jobs/index.js';
import type { Store } from '../../store/port.js';
import { appendEvent, EVENTS_CHANNEL, lastEventSeq, listEvents, SYSTEM, type AuditEvent } from '../events.js';
import { advanceCursor, ensureCursor, readCursor } from '../sinks/cursor.js';
import { allRules, type DetectionSettings, type Finding, type Rule, type RuleId } from './rules.js';

/** The job and cursor name. */
export const DETECTIONS_JOB = 'audit.detections';
const CURSOR = 'detections';

export interface DetectionEngineOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly settings: DetectionSettings;
  /** Rules whose findings suspend the key they name. */
  readonly suspendOn?: readonly RuleId[];
  /** Suspends a key (the key service's `suspend`); rejects when it cannot (already suspended, revoked). */
  readonly suspendKey?: (keyId: string, reason: string) => Promise<void>;
  /** Revokes a refresh family with its refresh and access tokens (the refresh-token service's); resolves `false` when it was not active. */
  readonly revokeGrant?: (grantId: string, reason: string) => Promise<boolean>;
  /** Disables an OAuth client (the client module's); resolves `false` when it was already disabled. */
  readonly disableClient?: (clientId: string, reason: string) => Promise<boolean>;
  /** Events per batch (default 500). */
  readonly batchSize?: number;
  /** Events replayed, unrecorded, to warm the rules' windows on takeover (default 5 000). */
  readonly warmupEvents?: number;
  /** Where a new engine starts: the newest event (`end`, default) or the first (`start`). */
  readonly from?: 'start' | 'end';
  readonly logger?: { warn(obj: object, msg: string): void } | undefined;
}

/** Runs the detection rules over the log; see the module comment. */
export class DetectionEngine {
  readonly #o: DetectionEngineOptions;
  #rules: Rule[] | undefined;
  /** The cursor position the in-memory rules have seen up to. */
  #seen = -1;
  #unsubscribe: (() => void) | undefined;

  constructor(options: DetectionEngineOptions) {
    this.#o = options;
  }

  /** Registers the job on `host` and wakes it when events commit. */
  async register(host: { register(job: JobDefinition): Promise<void>; nudge(name: string): void }): Promise<void> {
    await host.register({ name: DETECTIONS_JOB, everyMs: 2_000, leaseMs: 120_000, run: (run) => this.run(run) });
    let pending: NodeJS.Timeout | undefined;
    this.#unsubscribe = this.#o.store.subscribe(EVENTS_CHANNEL, () => {
      if (pending !== undefined) return;
      pending = setTimeout(() => {
        pending = undefined;
        host.nudge(DETECTIONS_JOB);
      }, 250);
      pending.unref();
    });
  }

  close(): void {
    this.#unsubscribe?.();
  }

  /** One run: processes every event after the cursor (up to 20 batches). */
  async run(run?: Pick<JobRun, 'signal'>): Promise<JobResult | void> {
    try {
      return await this.#run(run);
    } catch (err) {
      // The rules saw events whose findings were not recorded: rebuild them from the cursor next time.
      this.#rules = undefined;
      throw err;
    }
  }

  async #run(run?: Pick<JobRun, 'signal'>): Promise<JobResult | void> {
    const { store, ctx } = this.#o;
    const batchSize = this.#o.batchSize ?? 500;
    const now = () => ctx.now().getTime();
    let cursor = await readCursor(store, CURSOR);
    if (!cursor) cursor = await ensureCursor(store, CURSOR, 'detections', this.#o.from === 'start' ? 0 : await lastEventSeq(store), now());
    if (this.#rules === undefined || this.#seen !== cursor.position) await this.#warmUp(cursor.position);
    for (let batch = 0; batch < 20; batch++) {
      if (run?.signal.aborted) return;
      // A backlog is read in batches: requests get the event loop between them.
      if (batch > 0) await new Promise((resolve) => setImmediate(resolve));
      const events = await listEvents(store, { afterSeq: cursor.position, limit: batchSize });
      if (events.length === 0) return;
      const findings: { finding: Finding; response: Response }[] = [];
      for (const event of events) for (const finding of this.#observe(event)) findings.push({ finding, response: await this.#respond(finding) });
      const from = cursor.position;
      const to = events[events.length - 1]!.seq;
      const moved = await store.transaction(async (tx) => {
        for (const { finding, response } of findings) {
          await appendEvent(
            tx,
            ctx,
            {
              type: 'detection.finding',
              target: finding.target,
              outcome: 'success',
              reason: finding.title,
              data: {
                rule: finding.rule,
                severity: finding.severity,
                evidence: [...finding.evidence],
                ...(finding.count === undefined ? {} : { count: finding.count }),
                ...(finding.networks === undefined ? {} : { networks: [...finding.networks] }),
                response,
              },
            },
            SYSTEM,
          );
        }
        const ok = await advanceCursor(tx, CURSOR, from, to, events.length, now());
        // Another node moved the cursor: record nothing (it recorded these findings).
        if (!ok) throw new Lost();
        return ok;
      }).catch((err: unknown) => {
        if (err instanceof Lost) return false;
        throw err;
      });
      if (!moved) {
        this.#rules = undefined;
        return;
      }
      this.#seen = to;
      cursor = (await readCursor(store, CURSOR))!;
      if (events.length < batchSize) return;
    }
    return { nextRunAt: new Date(now()) };
  }

  #observe(event: AuditEvent): Finding[] {
    const out: Finding[] = [];
    for (const rule of this.#rules!) out.push(...rule.observe(event));
    return out;
  }

  /**
   * The automatic response to a finding of a rule in `suspendOn`, through the owning module's own
   * function (each records its event): suspend the key, revoke the refresh family, or disable the
   * client the finding names. `none` when it names nothing to act on, or it was done already.
   */
  async #respond(finding: Finding): Promise<Response> {
    if (!this.#o.suspendOn?.includes(finding.rule)) return 'none';
    const reason = `detection ${finding.rule}: ${finding.title}`;
    const o = this.#o;
    const act: { on: string; run: () => Promise<Response> } | undefined =
      finding.suspendKey !== undefined && o.suspendKey
        ? { on: finding.suspendKey, run: async () => (await o.suspendKey!(finding.suspendKey!, reason), 'suspended') }
        : finding.revokeGrant !== undefined && o.revokeGrant
          ? { on: finding.revokeGrant, run: async () => ((await o.revokeGrant!(finding.revokeGrant!, reason)) ? 'revoked' : 'none') }
          : finding.disableClient !== undefined && o.disableClient
            ? { on: finding.disableClient, run: async () => ((await o.disableClient!(finding.disableClient!, reason)) ? 'disabled' : 'none') }
            : undefined;
    if (act === undefined) return 'none';
    try {
      return await act.run();
    } catch (err) {
      o.logger?.warn({ err, credential: act.on, rule: finding.rule }, 'automatic response failed');
      return 'failed';
    }
  }

  async #warmUp(position: number): Promise<void> {
    const warm = this.#o.warmupEvents ?? 5_000;
    const start = Math.max(0, position - warm);
    this.#rules = allRules(this.#o.settings, start);
    let after = start;
    while (after < position) {
      const events = await listEvents(this.#o.store, { afterSeq: after, limit: 1000 });
      const upTo = events.filter((e) => e.seq <= position);
      for (const event of upTo) this.#observe(event);
      if (upTo.length < events.length || events.length < 1000 || upTo.length === 0) break;
      after = upTo[upTo.length - 1]!.seq;
      await new Promise((resolve) => setImmediate(resolve));
    }
    // The gap rule starts at the cursor itself.
    this.#rules = this.#rules.map((r) => (r.id === 'sequence_gap' ? allRules(this.#o.settings, position).find((x) => x.id === 'sequence_gap')! : r));
    this.#seen = position;
  }
}

class Lost extends Error {}

/** What the automatic response did (`detection.finding`'s `data.response`). */
type Response = 'none' | 'suspended' | 'revoked' | 'disabled' | 'failed';
