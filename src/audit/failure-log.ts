import type { Context } from '../core/context.js';
import { sourceNetwork } from '../core/network.js';
import type { Store } from '../store/port.js';
import { appendEvent, type EventInput, type RequestMeta } from './events.js';
import { FailureAggregator, sanitizeClaimed, type FailureSummary } from './failures.js';

/** The failure events that go through aggregation: anyone can cause them without a credential. */
export type AggregatedFailure = Extract<EventInput, { type: 'key.verify_failed' | 'admin.auth_failed' | 'client.auth_failed' | 'token.introspection_failed' | 'binding.tls_failed' | 'binding.client_cert_header_ignored' | 'binding.dpop_failed' }>;

/** Where a failed write of a failure event is reported (a pino logger fits). */
export interface FailureLogLogger {
  warn(obj: object, msg: string): void;
}

export interface FailureLogOptions {
  readonly store: Store;
  readonly ctx: Context;
  /** How long a group of like failures collects before its summary (ms, default 60 000). */
  readonly windowMs?: number;
  /** Most groups open at once (default 1 000); past it failures fold into one overflow group per type and reason. */
  readonly maxGroups?: number;
  /** How often (real ms) closed groups are summarised (default: a tenth of the window, at least 1 s, at most 10 s). */
  readonly flushEveryMs?: number;
  readonly logger?: FailureLogLogger | undefined;
}

/**
 * Records failed authentications without letting a flood of them grow the store: each failure is
 * grouped by what it was about (`target`, the id of something that exists, or a sanitised claimed
 * id), its reason and its source network ({@link sourceNetwork}: an IPv4 address or an IPv6 /64).
 * The first failure of a group in a window is written in full, at once; the rest are counted and
 * one `audit.failures_summarized` event per group is written when the window closes (by a timer,
 * and for every open group at {@link close}, so a graceful shutdown loses no count).
 *
 * What a flood can write is bounded by the window and the group limit, whatever it sends: at most
 * `maxGroups` full events plus `maxGroups` summaries (plus one overflow summary per type and
 * reason) per window.
 *
 * @example
 * ```ts
 * const failures = new FailureLog({ store, ctx });
 * await failures.record({ type: 'key.verify_failed', target: null, outcome: 'failure', reason: 'unknown', data: {} }, meta);
 * await failures.close(); // writes the summaries of every open group
 * ```
 */
export class FailureLog {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #aggregator: FailureAggregator;
  readonly #flushEveryMs: number;
  readonly #logger: FailureLogLogger | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<number> = Promise.resolve(0);
  #closed = false;

  constructor(options: FailureLogOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    const windowMs = options.windowMs ?? 60_000;
    this.#aggregator = new FailureAggregator({ windowMs, maxGroups: options.maxGroups ?? 1_000, now: () => this.#ctx.now().getTime() });
    this.#flushEveryMs = options.flushEveryMs ?? Math.min(Math.max(Math.floor(windowMs / 10), 1_000), 10_000);
    this.#logger = options.logger;
  }

  /** Groups open now (for tests and metrics). */
  get openGroups(): number {
    return this.#aggregator.size;
  }

  /**
   * Notes one failure: writes its event now when it is the first of its group in the window, else
   * only counts it. `claimed` is what the caller said it was (a client id, an assertion `iss`)
   * when that names nothing known; it is sanitised here and recorded in `data.claimed`, never as
   * the target. Resolves `true` when the event was written.
   */
  async record(input: AggregatedFailure, meta: RequestMeta, claimed?: string | null): Promise<boolean> {
    const safeClaimed = claimed === undefined || claimed === null || input.target !== null ? null : sanitizeClaimed(claimed);
    const network = sourceNetwork(meta.sourceIp);
    const admission = this.#aggregator.admit({ type: input.type, subject: input.target, claimed: safeClaimed, reason: input.reason ?? '', network });
    this.#arm();
    if (admission === 'count') return false;
    const event = (safeClaimed === null || input.type !== 'client.auth_failed' ? input : { ...input, data: { claimed: safeClaimed } }) as AggregatedFailure;
    await this.#store.transaction((tx) => appendEvent(tx, this.#ctx, event, meta));
    return true;
  }

  /**
   * Writes the summaries of groups whose window has ended (every open group with `all`). Resolves
   * the number of summary events written. Runs one at a time.
   */
  flush(all = false): Promise<number> {
    const next = this.#flushing.then(() => this.#write(this.#aggregator.closed(all)));
    this.#flushing = next.catch(() => 0);
    return next;
  }

  /** Stops the timer and writes the summary of every open group (call before closing the store). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush(true);
  }

  async #write(summaries: FailureSummary[]): Promise<number> {
    if (summaries.length === 0) return 0;
    await this.#store.transaction(async (tx) => {
      for (const s of summaries) {
        await appendEvent(
          tx,
          this.#ctx,
          {
            type: 'audit.failures_summarized',
            target: s.subject,
            outcome: 'failure',
            reason: s.reason === '' ? null : s.reason,
            data: {
              of: s.type,
              count: s.count,
              network: s.network,
              firstAt: new Date(s.firstAt).toISOString(),
              lastAt: new Date(s.lastAt).toISOString(),
              overflow: s.overflow,
              ...(s.claimed ? { claimed: s.claimed } : {}),
            },
          },
          { actor: null, actorKind: null, sourceIp: null, requestId: null },
        );
      }
    });
    return summaries.length;
  }

  /** Starts the summary timer on the first failure (unref'd: it never keeps a process alive). */
  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => {
      this.flush().catch((err: unknown) => this.#logger?.warn({ err }, 'writing failure summaries failed'));
    }, this.#flushEveryMs);
    this.#timer.unref();
  }
}
