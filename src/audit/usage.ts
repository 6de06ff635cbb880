/**
 * Usage records: successful uses of a credential, aggregated like failures. The hot path only
 * counts in memory ({@link UsageLog.note}: one map lookup); a job writes what was counted, one
 * usage record (`usage_records`) and one `key.used` event (API keys) or `credential.used` event
 * (client secrets, per client; refresh tokens, per family) per credential, source network and
 * interval. That gives every credential its "last used" and "used from" ({@link usageOf}) and
 * feeds the detections (a `key.used` event says whether the network is new for the credential).
 * The only SQL that names `usage_records`.
 */
import { createHash } from 'node:crypto';
import type { Context } from '../core/context.js';
import { sourceNetwork } from '../core/network.js';
import type { Queryable, Store } from '../store/port.js';
import { appendEvent } from './events.js';

/** What kind of credential a usage record counts. */
export type UsedCredential = 'api_key' | 'client_secret' | 'refresh_token';

/** Uses of one credential from one address, since the last flush. */
interface Tally {
  readonly credential: string;
  readonly kind: UsedCredential;
  readonly address: string | null;
  count: number;
  readonly firstAt: number;
  lastAt: number;
}

export interface UsageLogOptions {
  readonly store: Store;
  readonly ctx: Context;
  /** Length of one usage interval (ms, default 5 minutes); records are keyed by its start. */
  readonly intervalMs?: number;
  /** Most (credential, address) pairs counted at once (default 100 000); past it uses fold into network `many`. */
  readonly maxGroups?: number;
}

/** When a credential was last used, and from where. */
export interface UsageSummary {
  /** Last successful use written so far (ISO 8601), or `null` when never used (or not yet flushed). */
  readonly lastUsedAt: string | null;
  /** The most recent source networks, newest first (at most 10). */
  readonly usedFrom: readonly { readonly network: string; readonly lastUsedAt: string; readonly count: number }[];
}

/**
 * Counts successful uses in memory and writes them per interval.
 *
 * @example
 * ```ts
 * const usage = new UsageLog({ store, ctx });
 * usage.note('key_1', '192.0.2.7'); // on every successful verification
 * await usage.flush();               // by the job runner, every interval, and at close
 * ```
 */
export class UsageLog {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #intervalMs: number;
  readonly #maxGroups: number;
  #tallies = new Map<string, Tally>();
  #flushing: Promise<number> = Promise.resolve(0);

  constructor(options: UsageLogOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#intervalMs = options.intervalMs ?? 300_000;
    this.#maxGroups = options.maxGroups ?? 100_000;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Pairs counted since the last flush. */
  get pending(): number {
    return this.#tallies.size;
  }

  /**
   * Counts one successful use of `credential` (an API key by default; a client for its secret, a
   * refresh family for its tokens) from `address`. Synchronous and allocation-light: one map
   * lookup, no write.
   */
  note(credential: string, address: string | null | undefined, kind: UsedCredential = 'api_key'): void {
    const now = this.#ctx.now().getTime();
    const key = `${credential}\u0000${address ?? ''}`;
    const tally = this.#tallies.get(key);
    if (tally !== undefined) {
      tally.count++;
      tally.lastAt = now;
      return;
    }
    if (this.#tallies.size >= this.#maxGroups) {
      const overflow = `${credential}\u0000many`;
      const folded = this.#tallies.get(overflow);
      if (folded) {
        folded.count++;
        folded.lastAt = now;
      } else this.#tallies.set(overflow, { credential, kind, address: 'many', count: 1, firstAt: now, lastAt: now });
      return;
    }
    this.#tallies.set(key, { credential, kind, address: address ?? null, count: 1, firstAt: now, lastAt: now });
  }

  /** Writes everything counted so far (one at a time). Resolves the number of usage records written. */
  flush(): Promise<number> {
    const next = this.#flushing.then(() => this.#write());
    this.#flushing = next.catch(() => 0);
    return next;
  }

  async #write(): Promise<number> {
    if (this.#tallies.size === 0) return 0;
    const taken = this.#tallies;
    this.#tallies = new Map();
    // Addresses of one network (an IPv6 /64) become one record.
    const groups = new Map<string, { credential: string; kind: UsedCredential; network: string; address: string | null; count: number; firstAt: number; lastAt: number }>();
    for (const t of taken.values()) {
      const network = t.address === 'many' ? 'many' : sourceNetwork(t.address);
      const key = `${t.credential}\u0000${network}`;
      const g = groups.get(key);
      if (g) {
        g.count += t.count;
        g.firstAt = Math.min(g.firstAt, t.firstAt);
        if (t.lastAt >= g.lastAt) g.address = t.address;
        g.lastAt = Math.max(g.lastAt, t.lastAt);
      } else groups.set(key, { credential: t.credential, kind: t.kind, network, address: t.address, count: t.count, firstAt: t.firstAt, lastAt: t.lastAt });
    }
    try {
      await this.#store.transaction(async (tx) => {
        for (const g of groups.values()) {
          const interval = Math.floor(g.firstAt / this.#intervalMs) * this.#intervalMs;
          const seen = await tx.get('SELECT 1 AS one FROM usage_records WHERE credential_id = ? AND network = ? LIMIT 1', [g.credential, g.network]);
          const any = seen ?? (await tx.get('SELECT 1 AS one FROM usage_records WHERE credential_id = ? LIMIT 1', [g.credential]));
          // Why: one row per credential, network and interval; nodes flushing the same interval add up.
          await tx.run(
            `INSERT INTO usage_records (credential_id, network, interval_start, count, first_at, last_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (credential_id, network, interval_start) DO UPDATE SET count = usage_records.count + excluded.count,
               first_at = CASE WHEN excluded.first_at < usage_records.first_at THEN excluded.first_at ELSE usage_records.first_at END,
               last_at = CASE WHEN excluded.last_at > usage_records.last_at THEN excluded.last_at ELSE usage_records.last_at END`,
            [g.credential, g.network, interval, g.count, g.firstAt, g.lastAt],
          );
          const used = {
            network: g.network,
            count: g.count,
            firstAt: new Date(g.firstAt).toISOString(),
            lastAt: new Date(g.lastAt).toISOString(),
            newNetwork: seen === undefined && any !== undefined,
            firstUse: any === undefined,
          };
          await appendEvent(
            tx,
            this.#ctx,
            g.kind === 'api_key'
              ? { type: 'key.used', target: g.credential, outcome: 'success', data: used }
              : { type: 'credential.used', target: g.credential, outcome: 'success', data: { credential: g.kind, ...used } },
            { actor: null, actorKind: null, sourceIp: g.address === 'many' ? null : g.address, requestId: null },
          );
        }
      });
    } catch (err) {
      // Nothing written: put the counts back so the next flush writes them.
      for (const [key, t] of taken) {
        const now = this.#tallies.get(key);
        if (now) {
          now.count += t.count;
        } else this.#tallies.set(key, t);
      }
      throw err;
    }
    return groups.size;
  }
}

/** When `credential` was last used and from which networks (written records only). */
export async function usageOf(db: Queryable, credential: string): Promise<UsageSummary> {
  const rows = await db.all<{ network: string; last_at: number | string; count: number | string }>(
    `SELECT network, MAX(last_at) AS last_at, SUM(count) AS count FROM usage_records WHERE credential_id = ?
     GROUP BY network ORDER BY MAX(last_at) DESC LIMIT 10`,
    [credential],
  );
  const usedFrom = rows.map((r) => ({ network: r.network, lastUsedAt: new Date(Number(r.last_at)).toISOString(), count: Number(r.count) }));
  return { lastUsedAt: usedFrom[0]?.lastUsedAt ?? null, usedFrom };
}

/** Deletes usage records whose interval ended before `before` (ms); resolves the rows deleted. */
export async function pruneUsage(db: Queryable, before: number): Promise<number> {
  return (await db.run('DELETE FROM usage_records WHERE last_at < ?', [before])).changes;
}

/** The per-node job name that flushes this process's counts (every node counts its own uses). */
export function usageJobName(nodeId: string): string {
  return `audit.usage.${createHash('sha256').update(nodeId).digest('hex').slice(0, 16)}`;
}
