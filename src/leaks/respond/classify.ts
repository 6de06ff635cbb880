import type { KeyView } from '../../keys/index.js';
import { API_KEY_LIFECYCLE } from '../../core/lifecycle.js';
import type { FindingStatus } from './finding.js';

/**
 * What to do about a reported secret, decided without a store: from whether the secret was
 * recorded before, what it looks like, the standing of the API key whose digest it equals (if
 * any) and the configured response mode. The responder looks these facts up and applies the
 * decision; this module only decides.
 */

/** What the response does when a live key of ours is found leaked (`leakResponse`). */
export const LEAK_MODES = ['suspend', 'revoke'] as const;
export type LeakMode = (typeof LEAK_MODES)[number];

/**
 * The standing of the API key a fingerprint belongs to: its status as the keys capability shows
 * it, or `none` when no key of this server has that digest (or it was not looked up).
 */
export type KeyStanding = KeyView['status'] | 'none';

/**
 * The decision for one secret:
 * - `already_reported`: recorded before; it was acted on and notified then, so only the new
 *   places are added.
 * - `suspend` / `revoke`: one of our live keys; quarantine it per the mode.
 * - `key_inactive`: one of our keys, already suspended, revoked or retired; record it only.
 * - `not_ours`: keyturn-shaped, but no API key of this server; record and report it.
 * - `third_party`: someone else's secret; record and report it, never act.
 */
export const LEAK_DECISIONS = ['already_reported', 'suspend', 'revoke', 'key_inactive', 'not_ours', 'third_party'] as const;
export type LeakDecision = (typeof LEAK_DECISIONS)[number];

/** The facts a decision is made from. */
export interface LeakFacts {
  /** A finding with this fingerprint is already recorded. */
  readonly recorded: boolean;
  /** The finding's kind (`keyturn` for keyturn-format secrets). */
  readonly kind: string;
  readonly key: KeyStanding;
  readonly mode: LeakMode;
}

/**
 * Standings in which a key still works and must be shut off. `expired` is an `active` key past
 * its expiry: stored as active, so it is quarantined like one.
 */
const LIVE: ReadonlySet<KeyStanding> = new Set<KeyStanding>([...API_KEY_LIFECYCLE.live, 'expired']);

/**
 * Decides what to do about one reported secret.
 *
 * @example
 * ```ts
 * classifyFinding({ recorded: false, kind: 'keyturn', key: 'active', mode: 'suspend' }); // 'suspend'
 * classifyFinding({ recorded: false, kind: 'aws', key: 'none', mode: 'suspend' }); // 'third_party'
 * ```
 */
export function classifyFinding(facts: LeakFacts): LeakDecision {
  if (facts.recorded) return 'already_reported';
  if (facts.key === 'none') return facts.kind === 'keyturn' ? 'not_ours' : 'third_party';
  if (!LIVE.has(facts.key)) return 'key_inactive';
  return facts.mode;
}

/** The status a new finding is recorded with, for every decision that records one. */
export function statusOf(decision: Exclude<LeakDecision, 'already_reported'>): FindingStatus {
  switch (decision) {
    case 'suspend':
      return 'suspended';
    case 'revoke':
      return 'revoked';
    case 'key_inactive':
      return 'inactive';
    case 'not_ours':
      return 'unknown';
    case 'third_party':
      return 'third_party';
  }
}
