import type { KeyView } from '../../keys/index.js';
import { API_KEY_LIFECYCLE } from '../../core/lifecycle.js';
import type { FindingStatus, HeldReason } from './finding.js';

/**
 * What to do about a reported secret, decided without a store: from whether the secret was
 * recorded before, what it looks like, the standing now of the keyturn credential (API key,
 * client secret, refresh family, access token) whose digest it equals (if any), the configured
 * response mode, and whether a live admin key must be held. The responder looks these facts up and applies the
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
 * - `already_reported`: recorded before, and nothing more to do now (its credential, if any, no
 *   longer works, or it is someone else's secret): only the new places are added.
 * - `suspend` / `revoke`: a live credential of ours (new, or seen again while it works: a
 *   suspended key that an admin unsuspended is acted on again); respond per the mode.
 * - `hold`: a live admin key that must be left working (see `HeldReason`): reported only.
 * - `key_inactive`: a credential of ours that already does not work; record it only.
 * - `not_ours`: keyturn-shaped, but no credential of this server; record and report it.
 * - `third_party`: someone else's secret; record and report it, never act.
 */
export const LEAK_DECISIONS = ['already_reported', 'suspend', 'revoke', 'hold', 'key_inactive', 'not_ours', 'third_party'] as const;
export type LeakDecision = (typeof LEAK_DECISIONS)[number];

/** The facts a decision is made from. */
export interface LeakFacts {
  /** A finding with this fingerprint is already recorded. */
  readonly recorded: boolean;
  /** The finding's kind (`keyturn` for keyturn-format secrets). */
  readonly kind: string;
  /**
   * The standing of the credential of ours the secret is, looked up now: an API key's status, or
   * for OAuth credentials `active` (it works), `suspended` (its client is disabled) or `revoked`.
   */
  readonly credential: KeyStanding;
  readonly mode: LeakMode;
  /** Set when a live admin key must not be acted on (`last_admin`, `own_credential`). */
  readonly hold?: HeldReason | null;
}

/**
 * Standings in which a key still works and must be shut off. `expired` is an `active` key past
 * its expiry: stored as active, so it is quarantined like one.
 */
const LIVE: ReadonlySet<KeyStanding> = new Set<KeyStanding>([...API_KEY_LIFECYCLE.live, 'expired']);

/** Whether a credential in `standing` still works (or would, for an expired key: it is stored active). */
export function isLiveStanding(standing: KeyStanding): boolean {
  return LIVE.has(standing);
}

/**
 * Decides what to do about one reported secret. A recorded keyturn secret is decided again on
 * every sighting: what matters is whether its credential works now.
 *
 * @example
 * ```ts
 * classifyFinding({ recorded: false, kind: 'keyturn', credential: 'active', mode: 'suspend' }); // 'suspend'
 * classifyFinding({ recorded: true, kind: 'keyturn', credential: 'active', mode: 'suspend' }); // 'suspend' (unsuspended since)
 * classifyFinding({ recorded: false, kind: 'aws', credential: 'none', mode: 'suspend' }); // 'third_party'
 * ```
 */
export function classifyFinding(facts: LeakFacts): LeakDecision {
  if (facts.credential === 'none') return facts.recorded ? 'already_reported' : facts.kind === 'keyturn' ? 'not_ours' : 'third_party';
  if (!LIVE.has(facts.credential)) return facts.recorded ? 'already_reported' : 'key_inactive';
  if (facts.hold) return 'hold';
  return facts.mode;
}

/** The status a finding is recorded with, for every decision that records one. */
export function statusOf(decision: Exclude<LeakDecision, 'already_reported'>): FindingStatus {
  switch (decision) {
    case 'suspend':
      return 'suspended';
    case 'revoke':
      return 'revoked';
    case 'hold':
      return 'held';
    case 'key_inactive':
      return 'inactive';
    case 'not_ours':
      return 'unknown';
    case 'third_party':
      return 'third_party';
  }
}
