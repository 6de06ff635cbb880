/**
 * Delivers the event log to every configured sink: one job per sink on the job runner
 * (`audit.sink.<name>`), each fed by its durable cursor. A run reads the events after the cursor,
 * formats and sends them in order, and only then moves the cursor — so delivery is at least once,
 * in order per sink, resumed from the cursor after a restart, and (the job being claimed through
 * the store, the cursor moved by a conditional update) done by one node of a cluster at a time.
 * A failed batch leaves the cursor where it was and is retried with exponential backoff and
 * jitter; the first failure records `audit.sink_down`, the first success after it
 * `audit.sink_recovered` (each in the transaction that changes the cursor's state).
 */
import type { Context } from '../../core/context.js';
import { KeyturnError } from '../../core/errors.js';
import type { JobDefinition, JobResult, JobRun } from '../../jobs/index.js';
import { retryDelay } from '../../jobs/index.js';
import type { Store } from '../../store/port.js';
import { appendEvent, EVENTS_CHANNEL, lastEventSeq, listEvents, SYSTEM } from '../events.js';
import { canonicalOf } from './canonical.js';
import { advanceCursor, ensureCursor, failCursor, listCursors, readCursor, retryCursorNow, type SinkCursor } from './cursor.js';
import type { Sink } from './sink.js';

/** Where the dispatcher registers its jobs (a {@link JobRunner} fits). */
export interface SinkJobHost {
  register(job: JobDefinition): Promise<void>;
  nudge(name: string): void;
}

export interface SinkDispatcherOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly sinks: readonly Sink[];
  /** How often each sink looks for new events without a nudge (ms, default 1 000). */
  readonly everyMs?: number;
  /** First retry delay after a failure (ms, default 1 000), doubling up to `maxRetryMs`. */
  readonly retryBaseMs?: number;
  /** Longest retry delay (ms, default 5 minutes). */
  readonly maxRetryMs?: number;
  /** Batches per run before yielding to other jobs (default 20). */
  readonly maxBatches?: number;
  readonly logger?: { warn(obj: object, msg: string): void } | undefined;
  /**
   * The sinks added through the admin API (see {@link SinkRegistry}), read again by {@link sync}
   * whenever one changes on any node; `version` changes with every update.
   */
  readonly stored?: StoredSinks | undefined;
}

/** Where the dispatcher finds the sinks added through the admin API. */
export interface StoredSinks {
  /** The change-feed channel a change of a stored sink is announced on. */
  readonly channel: string;
  /** Every stored sink, built (its secret opened, its TLS files read), with its version. */
  load(): Promise<readonly { sink: Sink; version: number }[]>;
}

/** A sink's state as the admin API shows it. */
export interface SinkStatus extends SinkCursor {
  /** Whether this process has the sink configured (a cursor can outlive its sink). */
  readonly configured: boolean;
  /** `config`: from the configuration file; `api`: added through the admin API; `null`: neither (a leftover cursor). */
  readonly origin: 'config' | 'api' | null;
  /** Events in the log after the cursor (at most 1 000 are counted). */
  readonly lag: number;
}

const JOB_PREFIX = 'audit.sink.';

function firstLine(err: unknown): string {
  const text = err instanceof KeyturnError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message || err.name : String(err);
  return text.split('\n')[0]!.slice(0, 300);
}

/** Delivers events to sinks; see the module comment. */
export class SinkDispatcher {
  readonly #store: Store;
  readonly #ctx: Context;
  /** Every sink this node delivers to: the configured ones, then the stored ones. */
  readonly #sinks = new Map<string, Sink>();
  readonly #configured: ReadonlySet<string>;
  /** Stored sinks' versions, as built here. */
  readonly #versions = new Map<string, number>();
  readonly #stored: StoredSinks | undefined;
  #host: SinkJobHost | undefined;
  readonly #registered = new Set<string>();
  #syncing: Promise<void> = Promise.resolve();
  #unsubscribeStored: (() => void) | undefined;
  readonly #everyMs: number;
  readonly #retryBaseMs: number;
  readonly #maxRetryMs: number;
  readonly #maxBatches: number;
  readonly #logger: SinkDispatcherOptions['logger'];
  #unsubscribe: (() => void) | undefined;
  #nudgeTimer: NodeJS.Timeout | undefined;

  constructor(options: SinkDispatcherOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    for (const sink of options.sinks) {
      if (this.#sinks.has(sink.name)) throw new KeyturnError('ERR_CONFIG', `two audit sinks are named ${sink.name}`);
      this.#sinks.set(sink.name, sink);
    }
    this.#configured = new Set(this.#sinks.keys());
    this.#stored = options.stored;
    this.#everyMs = options.everyMs ?? 1_000;
    this.#retryBaseMs = options.retryBaseMs ?? 1_000;
    this.#maxRetryMs = options.maxRetryMs ?? 300_000;
    this.#maxBatches = options.maxBatches ?? 20;
    this.#logger = options.logger;
  }

  /** The job name of sink `name`. */
  static jobName(name: string): string {
    return `${JOB_PREFIX}${name}`;
  }

  get names(): string[] {
    return [...this.#sinks.keys()];
  }

  /** The names of the sinks of the configuration file (stored sinks may not take them). */
  get configuredNames(): ReadonlySet<string> {
    return this.#configured;
  }

  /**
   * Reads the stored sinks again: builds the new and the updated ones (closing the transport an
   * update replaces), drops the removed ones, and registers a job for each sink not yet
   * registered on this node. A stored sink named like a configured one is ignored (the
   * configuration file wins; the admin API refuses such a name). Runs one at a time.
   */
  sync(): Promise<void> {
    const run = this.#syncing.then(() => this.#sync());
    this.#syncing = run.catch(() => undefined);
    return run;
  }

  async #sync(): Promise<void> {
    if (!this.#stored) return;
    const loaded = await this.#stored.load();
    const seen = new Set<string>();
    for (const { sink, version } of loaded) {
      if (this.#configured.has(sink.name)) {
        this.#logger?.warn({ sink: sink.name }, 'a stored audit sink has the name of a configured one; the configured one is used');
        void sink.transport.close();
        continue;
      }
      seen.add(sink.name);
      const old = this.#sinks.get(sink.name);
      if (old && this.#versions.get(sink.name) === version) {
        void sink.transport.close();
        continue;
      }
      this.#sinks.set(sink.name, sink);
      this.#versions.set(sink.name, version);
      if (old) await old.transport.close().catch(() => undefined);
      await this.#registerJob(sink.name);
    }
    for (const name of [...this.#versions.keys()]) {
      if (seen.has(name)) continue;
      const old = this.#sinks.get(name);
      this.#sinks.delete(name);
      this.#versions.delete(name);
      await old?.transport.close().catch(() => undefined);
    }
  }

  async #registerJob(name: string): Promise<void> {
    if (!this.#host || this.#registered.has(name)) return;
    this.#registered.add(name);
    await this.#host.register({ name: SinkDispatcher.jobName(name), everyMs: this.#everyMs, leaseMs: 120_000, run: (run) => this.deliver(name, run) });
  }

  /**
   * Registers one job per sink on `host`, and wakes them (at most every 200 ms) when events commit
   * on this node or, on PostgreSQL, on any node.
   */
  async register(host: SinkJobHost): Promise<void> {
    this.#host = host;
    for (const name of this.#sinks.keys()) await this.#registerJob(name);
    if (this.#stored) {
      await this.sync();
      // A change on any node (or a feed that reconnected: `null`) makes every node read them again.
      this.#unsubscribeStored = this.#store.subscribe(this.#stored.channel, () => {
        this.sync().catch((err: unknown) => this.#logger?.warn({ err: firstLine(err) }, 'reading the stored audit sinks failed'));
      });
    }
    this.#unsubscribe = this.#store.subscribe(EVENTS_CHANNEL, () => {
      if (this.#nudgeTimer !== undefined || this.#sinks.size === 0) return;
      this.#nudgeTimer = setTimeout(() => {
        this.#nudgeTimer = undefined;
        for (const name of this.#sinks.keys()) host.nudge(SinkDispatcher.jobName(name));
      }, 200);
      this.#nudgeTimer.unref();
    });
  }

  /**
   * One run for sink `name`: batches after its cursor until the log is drained, `maxBatches` were
   * sent, or a batch fails (then the next attempt is scheduled with backoff). Resolves when the
   * job should run again sooner than its interval.
   */
  async deliver(name: string, run?: Pick<JobRun, 'signal'>): Promise<JobResult | void> {
    const sink = this.#sinks.get(name);
    // A stored sink removed since its job was registered: nothing to deliver (its cursor is gone too).
    if (!sink) return;
    const signal = run?.signal ?? new AbortController().signal;
    const now = () => this.#ctx.now().getTime();
    let cursor = await this.#cursor(sink);
    if (cursor.nextAttemptAt > now()) return { nextRunAt: new Date(cursor.nextAttemptAt) };
    for (let batch = 0; batch < this.#maxBatches; batch++) {
      if (signal.aborted) return;
      const events = await listEvents(this.#store, { afterSeq: cursor.position, limit: sink.batchSize });
      if (events.length === 0) return;
      const last = events[events.length - 1]!.seq;
      const messages = events.filter((e) => sink.accepts(e.type)).map((e) => sink.format(canonicalOf(e)));
      try {
        await sink.transport.send(messages, signal);
      } catch (err) {
        const error = firstLine(err);
        const failures = cursor.failures + 1;
        const next = now() + retryDelay(failures, this.#retryBaseMs, this.#maxRetryMs, (n) => this.#ctx.random(n));
        await this.#store.transaction(async (tx) => {
          const wentDown = await failCursor(tx, sink.name, error, next, now());
          if (wentDown) {
            await appendEvent(tx, this.#ctx, { type: 'audit.sink_down', target: sink.name, outcome: 'failure', reason: error, data: { kind: sink.kind, position: cursor.position } }, SYSTEM);
          }
        });
        this.#logger?.warn({ sink: sink.name, error, failures }, 'audit sink delivery failed; retrying with backoff');
        return { nextRunAt: new Date(next) };
      }
      const before = cursor;
      const moved = await this.#store.transaction(async (tx) => {
        const ok = await advanceCursor(tx, sink.name, before.position, last, messages.length, now());
        if (ok && before.state === 'down') {
          await appendEvent(
            tx,
            this.#ctx,
            { type: 'audit.sink_recovered', target: sink.name, outcome: 'success', data: { kind: sink.kind, downForMs: now() - (before.downSince ?? now()), failures: before.failures } },
            SYSTEM,
          );
        }
        return ok;
      });
      // Another node moved the cursor (this one had lost its claim): leave the sink to it.
      if (!moved) return;
      cursor = (await readCursor(this.#store, sink.name))!;
      if (events.length < sink.batchSize) return;
    }
    return { nextRunAt: new Date(now()) };
  }

  async #cursor(sink: Sink): Promise<SinkCursor> {
    const existing = await readCursor(this.#store, sink.name);
    if (existing) return existing;
    let start = 0;
    if (sink.from === 'end') start = await lastEventSeq(this.#store);
    return ensureCursor(this.#store, sink.name, sink.kind, start, this.#ctx.now().getTime());
  }

  /** Every sink's cursor, with whether it is configured here and how far behind it is. */
  async status(): Promise<SinkStatus[]> {
    const cursors = new Map((await listCursors(this.#store)).map((c) => [c.name, c]));
    const out: SinkStatus[] = [];
    const names = new Set([...this.#sinks.keys(), ...[...cursors.values()].filter((c) => c.kind !== 'detections').map((c) => c.name)]);
    for (const name of [...names].sort()) {
      const sink = this.#sinks.get(name);
      const cursor = cursors.get(name) ?? (sink ? await this.#cursor(sink) : undefined);
      if (!cursor) continue;
      const lag = (await listEvents(this.#store, { afterSeq: cursor.position, limit: 1000 })).length;
      out.push({ ...cursor, configured: sink !== undefined, origin: sink === undefined ? null : this.#configured.has(name) ? 'config' : 'api', lag });
    }
    return out;
  }

  /** Lifts the backoff of sink `name` (it is tried at its next run); `ERR_NOT_FOUND` when unknown. */
  async retryNow(name: string): Promise<void> {
    if (!this.#sinks.has(name)) throw new KeyturnError('ERR_NOT_FOUND', `no audit sink ${name}`);
    await this.#cursor(this.#sinks.get(name)!);
    await retryCursorNow(this.#store, name, this.#ctx.now().getTime());
  }

  /** Stops listening and closes every transport. */
  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribeStored?.();
    if (this.#nudgeTimer !== undefined) clearTimeout(this.#nudgeTimer);
    await Promise.allSettled([...this.#sinks.values()].map((s) => s.transport.close()));
  }
}
