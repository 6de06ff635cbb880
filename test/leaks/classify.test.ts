import { describe, expect, it } from 'vitest';
import { classifyFinding, LEAK_DECISIONS, LEAK_MODES, statusOf, type KeyStanding, type LeakDecision } from '../../src/leaks/respond/classify.js';

/** Every standing a key can have as the keys capability shows it, and no key at all. */
const STANDINGS = ['none', 'active', 'rotating', 'expired', 'suspended', 'retired', 'revoked'] as const satisfies readonly KeyStanding[];
// Fails to compile when the keys capability gains a status this test does not list.
type Unlisted = Exclude<KeyStanding, (typeof STANDINGS)[number]>;
const everyStandingListed: [Unlisted] extends [never] ? true : never = true;

const KINDS = ['keyturn', 'aws'] as const;

/** The whole table, written out: what the response does for each case. */
function expected(recorded: boolean, kind: string, credential: KeyStanding, mode: 'suspend' | 'revoke', hold: 'last_admin' | null): LeakDecision {
  switch (credential) {
    case 'none':
      return recorded ? 'already_reported' : kind === 'keyturn' ? 'not_ours' : 'third_party';
    case 'active':
    case 'rotating':
    case 'expired': // an active key past its expiry: stored as active, so quarantined like one
      // decided again on every sighting: a key unsuspended since is acted on again
      return hold ? 'hold' : mode;
    case 'suspended':
    case 'retired':
    case 'revoked':
      return recorded ? 'already_reported' : 'key_inactive';
  }
}

describe('classifyFinding', () => {
  const cases = [true, false].flatMap((recorded) =>
    KINDS.flatMap((kind) =>
      STANDINGS.flatMap((credential) => LEAK_MODES.flatMap((mode) => (['last_admin', null] as const).map((hold) => ({ recorded, kind, credential, mode, hold })))),
    ),
  );

  it('covers every (recorded, kind, standing, mode, hold) case', () => {
    expect(everyStandingListed).toBe(true);
    expect(cases).toHaveLength(2 * KINDS.length * STANDINGS.length * LEAK_MODES.length * 2);
  });

  it.each(cases)('recorded=$recorded kind=$kind credential=$credential mode=$mode hold=$hold', (facts) => {
    expect(classifyFinding(facts)).toBe(expected(facts.recorded, facts.kind, facts.credential, facts.mode, facts.hold));
  });

  it('acts only on a live credential of ours that is not held, recorded before or not', () => {
    const acting = cases.filter((facts) => ['suspend', 'revoke'].includes(classifyFinding(facts)));
    expect(acting.every((f) => f.hold === null && ['active', 'rotating', 'expired'].includes(f.credential))).toBe(true);
    expect(acting.every((f) => classifyFinding(f) === f.mode)).toBe(true);
    expect(acting.some((f) => f.recorded)).toBe(true);
  });

  it('reaches every decision', () => {
    expect(new Set(cases.map(classifyFinding))).toEqual(new Set(LEAK_DECISIONS));
  });
});

describe('statusOf', () => {
  it('records each decision with the status the admin API and the webhooks show', () => {
    expect(LEAK_DECISIONS.filter((d) => d !== 'already_reported').map((d) => [d, statusOf(d)])).toEqual([
      ['suspend', 'suspended'],
      ['revoke', 'revoked'],
      ['hold', 'held'],
      ['key_inactive', 'inactive'],
      ['not_ours', 'unknown'],
      ['third_party', 'third_party'],
    ]);
  });
});
