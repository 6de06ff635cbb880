import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { appendEvent, SYSTEM, type RequestMeta } from '../audit/index.js';
import type { Context } from '../core/context.js';
import { parseDuration } from '../core/duration.js';
import { KeyturnError, isKeyturnError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { validate } from '../core/validate.js';
import type { EgressGuard, JobDefinition } from '../jobs/index.js';
import type { Queryable, Store } from '../store/port.js';
import { buildEngineConfig } from './scan/config.js';
import type { LeakLogger, LeakResponder, ResponseOutcome } from './respond/index.js';
import { parseTarget, runScan, type RunScanOptions, type ScanReport, type Target } from './scan/scanner.js';

/**
 * Watch jobs: sources the server scans on a schedule, incrementally, each run claimed by
 * exactly one node of a cluster, its findings fed to the {@link LeakResponder}. The job runner
 * (`src/jobs`) calls {@link WatchService.tick} through {@link watchJob}.
 *
 * A run is claimed by a conditional `UPDATE … SET claimed_until` that only one node can win
 * (the row must be due and unclaimed, or its claim expired); the claim is extended while the
 * scan runs, and released with the next due time when it ends. The scanner's incremental state
 * (git ref tips, file stamps, ETags — never a secret) is kept in the row, so any node can run the
 * next increment.
 */

export const addWatchSchema = z.strictObject({
  /** An absolute path on the server, a git URL, or `s3://bucket/prefix`. */
  source: z.string().min(1).max(2048),
  /** Interval, e.g. `15m`, `1h`, `1d` (at least 1s). */
  every: z.string().min(2).max(32),
  /** Scan the whole git history (all refs) rather than the files. */
  history: z.boolean().optional(),
});

/** A watch as the admin API shows it (the scan state stays inside). */
export interface WatchView {
  readonly id: string;
  readonly source: string;
  readonly history: boolean;
  /** The interval in milliseconds. */
  readonly everyMs: number;
  readonly createdAt: string;
  readonly nextRunAt: string;
  readonly lastRunAt: string | null;
  readonly lastResult: RunSummary | null;
  readonly runs: number;
  /** Set while a node is running it. */
  readonly claimedBy: string | null;
}

/** What one run found and did. */
export interface RunSummary {
  readonly ok: boolean;
  readonly findings: number;
  /** Secrets not reported before. */
  readonly new: number;
  readonly suspended: number;
  readonly revoked: number;
  readonly thirdParty: number;
  readonly bytes: number;
  readonly items: number;
  /** Error code and message when the run failed. */
  readonly error?: { readonly code: string; readonly message: string };
  /** keyturn data directories the scan did not enter (the server's own keys are never a leak to act on). */
  readonly skippedDataDirs?: readonly string[];
}

export interface RunResult extends RunSummary {
  readonly watchId: string;
  readonly outcomes: readonly ResponseOutcome[];
}

interface WatchRow {
  id: string;
  source: string;
  history: number;
  interval_ms: number | string;
  created_at: number | string;
  created_by: string | null;
  next_run_at: number | string;
  last_run_at: number | string | null;
  last_result: string | null;
  runs: number;
  state: string;
  claimed_by: string | null;
  claimed_until: number | string | null;
}

/** Scans one target; the real scanner by default, injectable for tests. */
export type ScanFunction = (target: Target, options: RunScanOptions) => Promise<ScanReport>;

export interface WatchServiceOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly responder: LeakResponder;
  /**
   * The deployment's fingerprint key: the watches' scans fingerprint non-keyturn secrets under it,
   * so what a watch keeps between runs (its state) reveals no weak secret.
   */
  readonly fingerprintKey: Uint8Array;
  /** Identifies this node in `claimed_by`. */
  readonly nodeId?: string;
  /** How long a claim holds without renewal (renewed every third of it while a scan runs). */
  readonly leaseMs?: number;
  readonly scan?: ScanFunction;
  /** Scanning threads per run (default: the scanner's, all cores). */
  readonly threads?: number;
  /** S3-compatible endpoint for `s3://` sources. */
  readonly s3Endpoint?: string;
  readonly logger?: LeakLogger;
  /**
   * Makes the scheduler look for due watches at once; called in the transaction that adds a watch
   * (whose first run is due at once). In a server: the runner's trigger of {@link WATCH_JOB}.
   */
  readonly wake?: (db: Queryable) => Promise<void>;
  /** Checks git remotes (loopback, private, metadata addresses refused) when added and before each run. */
  readonly egress?: EgressGuard;
}

/** The job runner's name for the job that runs due watches. */
export const WATCH_JOB = 'leaks.watch';

const MIN_INTERVAL_MS = 1_000;
const DUE_BATCH = 10;

const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

function toView(row: WatchRow): WatchView {
  return {
    id: row.id,
    source: row.source,
    history: Number(row.history) === 1,
    everyMs: Number(row.interval_ms),
    createdAt: iso(row.created_at) as string,
    nextRunAt: iso(row.next_run_at) as string,
    lastRunAt: iso(row.last_run_at),
    lastResult: row.last_result ? (JSON.parse(row.last_result) as RunSummary) : null,
    runs: Number(row.runs),
    claimedBy: row.claimed_by,
  };
}

/** The target a watch scans, refusing what cannot be stored or run by the server. */
export function watchTarget(source: string): Target {
  const target = parseTarget(source);
  switch (target.type) {
    case 'stdin':
      throw new KeyturnError('ERR_VALIDATION', 'source: standard input cannot be watched');
    case 'path':
      if (!isAbsolute(target.path)) throw new KeyturnError('ERR_VALIDATION', 'source: a path must be absolute (the server reads it)');
      if (!existsSync(target.path)) throw new KeyturnError('ERR_VALIDATION', 'source: no such file or directory on the server');
      return target;
    case 'git-url':
    case 's3': {
      const url = target.url;
      if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(url) && !/^ssh:\/\/[^:/@]+@/i.test(url)) {
        throw new KeyturnError('ERR_VALIDATION', 'source: credentials in URLs are not stored; use a git credential helper or the AWS credential chain');
      }
      return target;
    }
  }
}

/**
 * Schedules, claims and runs watch jobs.
 *
 * @example
 * ```ts
 * const watch = await watches.add({ source: '/srv/repos/api', every: '1h', history: true }, meta);
 * await runner.register(watchJob(watches, 60_000)); // look for due watches every minute
 * ```
 */
export class WatchService {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #fingerprintKey: string;
  readonly #responder: LeakResponder;
  readonly #nodeId: string;
  readonly #leaseMs: number;
  readonly #scan: ScanFunction;
  readonly #threads: number | undefined;
  readonly #s3Endpoint: string | undefined;
  readonly #logger: LeakLogger | undefined;
  readonly #wake: ((db: Queryable) => Promise<void>) | undefined;
  readonly #egress: EgressGuard | undefined;
  readonly #running = new Set<Promise<unknown>>();
  #stopped = false;

  constructor(options: WatchServiceOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#responder = options.responder;
    this.#fingerprintKey = Buffer.from(options.fingerprintKey).toString('hex');
    this.#nodeId = options.nodeId ?? newId('nod', options.ctx);
    this.#leaseMs = options.leaseMs ?? 15 * 60_000;
    this.#scan = options.scan ?? runScan;
    this.#threads = options.threads;
    this.#s3Endpoint = options.s3Endpoint;
    this.#logger = options.logger;
    this.#wake = options.wake;
    this.#egress = options.egress;
  }

  get nodeId(): string {
    return this.#nodeId;
  }

  /** Adds a watch; its first run is due at once. */
  async add(input: unknown, meta: RequestMeta): Promise<WatchView> {
    const data = validate(addWatchSchema, input);
    const interval = parseDuration(data.every);
    if (interval < MIN_INTERVAL_MS) throw new KeyturnError('ERR_VALIDATION', 'every: at least 1s');
    const target = watchTarget(data.source);
    if (target.type === 'git-url') await this.#egress?.check(target.url, 'source');
    if (data.history && target.type === 's3') throw new KeyturnError('ERR_VALIDATION', 'history: only git sources have a history');
    const now = this.#ctx.now().getTime();
    const id = newId('lkw', this.#ctx);
    return this.#store.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO leak_watches (id, source, history, interval_ms, created_at, created_by, next_run_at, runs, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, 0, '{}')`,
        [id, data.source, data.history ? 1 : 0, interval, now, meta.actor, now],
      );
      await appendEvent(
        tx,
        this.#ctx,
        { type: 'leak_watch.created', target: id, outcome: 'success', data: { source: data.source, history: data.history ?? false, everyMs: interval } },
        meta,
      );
      await this.#wake?.(tx);
      const row = await tx.get<WatchRow>('SELECT * FROM leak_watches WHERE id = ?', [id]);
      return toView(row!);
    });
  }

  async list(): Promise<WatchView[]> {
    const rows = await this.#store.all<WatchRow>('SELECT * FROM leak_watches ORDER BY created_at, id LIMIT 1000');
    return rows.map(toView);
  }

  async get(id: string): Promise<WatchView> {
    const row = await this.#store.get<WatchRow>('SELECT * FROM leak_watches WHERE id = ?', [id]);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such watch');
    return toView(row);
  }

  /** Removes a watch (a run in progress finishes, but its result is not kept). */
  async remove(id: string, meta: RequestMeta): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const row = await tx.get<WatchRow>('SELECT * FROM leak_watches WHERE id = ?', [id]);
      if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such watch');
      await tx.run('DELETE FROM leak_watches WHERE id = ?', [id]);
      await appendEvent(tx, this.#ctx, { type: 'leak_watch.removed', target: id, outcome: 'success', data: { source: row.source } }, meta);
    });
  }

  /**
   * Runs a watch now, due or not, unless another node is running it (`ERR_CONFLICT`). The next
   * scheduled run is one interval from now.
   */
  async run(id: string, meta: RequestMeta): Promise<RunResult> {
    const now = this.#ctx.now().getTime();
    const claimed = await this.#store.run(
      `UPDATE leak_watches SET claimed_by = ?, claimed_until = ?
       WHERE id = ? AND (claimed_until IS NULL OR claimed_until < ?)`,
      [this.#nodeId, now + this.#leaseMs, id, now],
    );
    if (claimed.changes !== 1) {
      await this.get(id); // ERR_NOT_FOUND when it does not exist
      throw new KeyturnError('ERR_CONFLICT', 'this watch is running on another node; try again when it ends');
    }
    return this.#execute(id, meta);
  }

  /**
   * Runs every due watch this node can claim, one after another. Resolves to the runs made here;
   * a watch another node claimed is skipped.
   */
  async tick(): Promise<RunResult[]> {
    const now = this.#ctx.now().getTime();
    const due = await this.#store.all<{ id: string }>(
      `SELECT id FROM leak_watches WHERE next_run_at <= ? AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY next_run_at, id LIMIT ?`,
      [now, now, DUE_BATCH],
    );
    const results: RunResult[] = [];
    for (const { id } of due) {
      if (this.#stopped) break;
      const at = this.#ctx.now().getTime();
      // The claim: only one node's UPDATE can find the row still due and unclaimed.
      const claimed = await this.#store.run(
        `UPDATE leak_watches SET claimed_by = ?, claimed_until = ?
         WHERE id = ? AND next_run_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)`,
        [this.#nodeId, at + this.#leaseMs, id, at, at],
      );
      if (claimed.changes !== 1) continue;
      results.push(await this.#execute(id, SYSTEM));
    }
    return results;
  }

  /** Takes no new due watch and waits for runs in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#running]);
  }

  /** Runs a claimed watch: scan with its stored state, respond, release the claim with the next due time. */
  async #execute(id: string, meta: RequestMeta): Promise<RunResult> {
    const work = this.#executeClaimed(id, meta);
    this.#running.add(work);
    try {
      return await work;
    } finally {
      this.#running.delete(work);
    }
  }

  async #executeClaimed(id: string, meta: RequestMeta): Promise<RunResult> {
    const row = await this.#store.get<WatchRow>('SELECT * FROM leak_watches WHERE id = ? AND claimed_by = ?', [id, this.#nodeId]);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such watch');
    const renew = setInterval(() => {
      const at = this.#ctx.now().getTime();
      this.#store
        .run('UPDATE leak_watches SET claimed_until = ? WHERE id = ? AND claimed_by = ?', [at + this.#leaseMs, id, this.#nodeId])
        .catch((err: unknown) => this.#logger?.warn({ err, watch: id }, 'could not extend a leak watch claim'));
    }, Math.max(1_000, Math.floor(this.#leaseMs / 3)));
    renew.unref();
    const stateDir = mkdtempSync(join(tmpdir(), 'keyturn-watch-'));
    let summary: RunSummary;
    let outcomes: ResponseOutcome[] = [];
    let state = row.state;
    try {
      writeStateFiles(stateDir, row.state);
      const watched = watchTarget(row.source);
      // Again at each run, and git is made to connect to the very addresses checked: the name may
      // resolve elsewhere now, or between this check and git's own lookup (DNS rebinding).
      const pinned = watched.type === 'git-url' ? await this.#egress?.pinGit(watched.url, 'source') : undefined;
      const report = await this.#scan(watched, {
        ...(pinned === undefined ? {} : { git: pinned }),
        config: buildEngineConfig({ fingerprintKey: this.#fingerprintKey }),
        history: Number(row.history) === 1,
        stateDir,
        now: () => this.#ctx.now(),
        ...(this.#threads === undefined ? {} : { threads: this.#threads }),
        ...(this.#s3Endpoint ? { s3: { endpoint: this.#s3Endpoint } } : {}),
      });
      outcomes = await this.#responder.respond(
        report.findings.map((f) => ({
          fingerprint: f.fingerprint,
          kind: f.kind,
          rule: f.rule,
          where: {
            via: 'watch',
            source: row.source,
            watchId: id,
            file: f.file,
            line: f.line,
            column: f.column,
            ...(f.commit === undefined ? {} : { commit: f.commit }),
          },
        })),
        meta,
      );
      state = readStateFiles(stateDir);
      summary = {
        ok: true,
        findings: outcomes.length,
        new: outcomes.filter((o) => o.new).length,
        suspended: outcomes.filter((o) => o.action === 'suspended').length,
        revoked: outcomes.filter((o) => o.action === 'revoked').length,
        thirdParty: outcomes.filter((o) => o.new && o.status === 'third_party').length,
        bytes: report.bytes,
        items: report.items,
        ...(report.skippedDataDirs?.length ? { skippedDataDirs: report.skippedDataDirs } : {}),
      };
      if (report.skippedDataDirs?.length) this.#logger?.warn({ watch: id, skipped: report.skippedDataDirs }, 'leak watch skipped keyturn data directories');
    } catch (err) {
      const code = isKeyturnError(err) ? err.code : 'ERR_INTERNAL';
      const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);
      this.#logger?.warn({ err, watch: id }, 'leak watch run failed');
      summary = { ok: false, findings: 0, new: 0, suspended: 0, revoked: 0, thirdParty: 0, bytes: 0, items: 0, error: { code, message } };
    } finally {
      clearInterval(renew);
      rmSync(stateDir, { recursive: true, force: true });
    }
    const now = this.#ctx.now().getTime();
    await this.#store.transaction(async (tx) => {
      // Only the claim holder writes the result; a watch removed meanwhile is left removed.
      const released = await tx.run(
        `UPDATE leak_watches SET claimed_by = NULL, claimed_until = NULL, last_run_at = ?, next_run_at = ?, last_result = ?, state = ?, runs = runs + 1
         WHERE id = ? AND claimed_by = ?`,
        [now, now + Number(row.interval_ms), JSON.stringify(summary), state, id, this.#nodeId],
      );
      if (released.changes === 1) {
        await appendEvent(
          tx,
          this.#ctx,
          {
            type: 'leak_watch.ran',
            target: id,
            outcome: summary.ok ? 'success' : 'failure',
            reason: summary.error?.code ?? null,
            data: { ...summary, node: this.#nodeId },
          },
          meta,
        );
      }
    });
    return { ...summary, watchId: id, outcomes };
  }
}

/**
 * The runner job that runs due watches every `everyMs`: one node of the cluster looks at a time,
 * and each watch is still claimed on its own (a manual `run` may hold one).
 */
export function watchJob(watches: WatchService, everyMs: number): JobDefinition {
  return {
    name: WATCH_JOB,
    everyMs,
    run: async () => {
      await watches.tick();
    },
  };
}

/** The scanner keeps its incremental state in files; a watch keeps them as one JSON object `{file: content}`. */
function writeStateFiles(dir: string, json: string): void {
  const files = JSON.parse(json) as Record<string, unknown>;
  for (const [name, content] of Object.entries(files)) {
    if (/^[0-9a-f]{32}\.json$/.test(name)) writeFileSync(join(dir, name), `${JSON.stringify(content)}\n`);
  }
}

function readStateFiles(dir: string): string {
  const files: Record<string, unknown> = {};
  for (const name of readdirSync(dir)) {
    if (/^[0-9a-f]{32}\.json$/.test(name)) files[name] = JSON.parse(readFileSync(join(dir, name), 'utf8')) as unknown;
  }
  return JSON.stringify(files);
}
