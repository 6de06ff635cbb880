/**
 * Failure aggregation: anyone can send a wrong credential, so recording one event per failure
 * lets an anonymous caller grow the store without bound. Failures are grouped by what they were
 * about (the credential, or the claimed id), why they failed and the source network, over a short
 * window: the first failure of a group is recorded in full at once, the rest are counted, and one
 * summary per group is recorded when its window closes. The number of groups per window is bounded;
 * past it, failures fold into one overflow group per (type, reason). So the events a flood can
 * write are at most `2 × maxGroups + overflow groups` per window, whatever it sends.
 */

/** What a failure is grouped by. `subject` is the id of something that exists (a credential, a client), or `null`. */
export interface FailureGroupKey {
  readonly type: string;
  readonly subject: string | null;
  readonly reason: string;
  readonly network: string;
  /**
   * A sanitised identifier the caller claimed that names nothing known (see {@link sanitizeClaimed}):
   * kept apart from `subject`, which only ever names something that exists.
   */
  readonly claimed?: string | null;
}

/** One closed group with more than its first failure: the summary event's content. */
export interface FailureSummary extends FailureGroupKey {
  /** Failures after the first (which was recorded in full when it happened). */
  readonly count: number;
  readonly firstAt: number;
  readonly lastAt: number;
  /** The group stood for many subjects and networks (the overflow group). */
  readonly overflow: boolean;
}

/** `record`: write this failure's event now; `count`: it is counted into its group's summary. */
export type FailureAdmission = 'record' | 'count';

interface Group {
  readonly key: FailureGroupKey;
  readonly overflow: boolean;
  readonly openedAt: number;
  count: number;
  lastAt: number;
}

export interface FailureAggregatorOptions {
  /** How long a group collects before its summary (default 60 000 ms). */
  readonly windowMs?: number;
  /** Most groups open at once (default 1 000); past it failures fold into overflow groups. */
  readonly maxGroups?: number;
  readonly now: () => number;
}

/**
 * Decides which failures are recorded in full and summarises the rest.
 *
 * @example
 * ```ts
 * const agg = new FailureAggregator({ now: () => ctx.now().getTime() });
 * if (agg.admit({ type: 'key.verify_failed', subject: null, reason: 'unknown', network }) === 'record') await write();
 * for (const summary of agg.closed()) await writeSummary(summary);
 * ```
 */
export class FailureAggregator {
  readonly #windowMs: number;
  readonly #maxGroups: number;
  readonly #now: () => number;
  readonly #groups = new Map<string, Group>();
  /** Groups whose window ended when a failure of the same group opened the next one. */
  readonly #closedEarly: Group[] = [];

  constructor(options: FailureAggregatorOptions) {
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxGroups = options.maxGroups ?? 1_000;
    this.#now = options.now;
  }

  /** Open groups (for tests and metrics). */
  get size(): number {
    return this.#groups.size;
  }

  /** Notes one failure: `record` for the first of its group in the window, else `count`. */
  admit(key: FailureGroupKey): FailureAdmission {
    const now = this.#now();
    const id = `${key.type}\u0000${key.subject ?? ''}\u0000${key.claimed ?? ''}\u0000${key.reason}\u0000${key.network}`;
    const open = this.#groups.get(id);
    if (open && now - open.openedAt < this.#windowMs) {
      open.count++;
      open.lastAt = now;
      return 'count';
    }
    if (!open && this.#groups.size >= this.#maxGroups) {
      // Too many distinct groups: one per (type, reason) stands for all the others.
      const spill = `${key.type}\u0000\u0001overflow\u0000${key.reason}`;
      const group = this.#groups.get(spill);
      if (group) {
        group.count++;
        group.lastAt = now;
        return 'count';
      }
      this.#groups.set(spill, { key: { type: key.type, subject: null, reason: key.reason, network: 'many' }, overflow: true, openedAt: now, count: 1, lastAt: now });
      return 'count';
    }
    // A group whose window ended is left for closed() to summarise; the new failure opens a fresh one.
    if (open) this.#closedEarly.push(open);
    this.#groups.set(id, { key, overflow: false, openedAt: now, count: 0, lastAt: now });
    return 'record';
  }

  /**
   * Takes every group whose window has ended (all of them with `all`, e.g. at shutdown) and
   * returns the summaries of those that counted anything beyond their first failure.
   */
  closed(all = false): FailureSummary[] {
    const now = this.#now();
    const out: FailureSummary[] = [];
    const summarise = (g: Group) => {
      if (g.count > 0) out.push({ ...g.key, count: g.count, firstAt: g.openedAt, lastAt: g.lastAt, overflow: g.overflow });
    };
    for (const g of this.#closedEarly.splice(0)) summarise(g);
    for (const [id, g] of this.#groups) {
      if (all || now - g.openedAt >= this.#windowMs) {
        this.#groups.delete(id);
        summarise(g);
      }
    }
    return out;
  }
}

/** Longest claimed identifier kept in an event; longer ones are cut and marked. */
export const MAX_CLAIMED_LENGTH = 64;

/**
 * A caller-supplied identifier (client id, key prefix, assertion `iss`) made fit to record:
 * printable ASCII only (others become `?`), at most {@link MAX_CLAIMED_LENGTH} characters with a
 * `…` marking a cut. Never trust it as a target: it names something only if a lookup found it.
 *
 * @example
 * ```ts
 * sanitizeClaimed('x'.repeat(60_000)); // 'xxxx…' (64 characters)
 * ```
 */
export function sanitizeClaimed(value: string): string {
  const cut = value.length > MAX_CLAIMED_LENGTH;
  const text = (cut ? value.slice(0, MAX_CLAIMED_LENGTH - 1) : value).replace(/[^\x20-\x7e]/g, '?');
  return cut ? `${text}…` : text;
}
