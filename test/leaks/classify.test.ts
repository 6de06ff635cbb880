import { describe, expect, it } from 'vitest';
import { classifyFinding, LEAK_DECISIONS, LEAK_MODES, statusOf, type KeyStanding, type LeakDecision } from '../../src/leaks/respond/classify.js';

/** Every standing a key can have as the keys capability shows it, and no key at all. */
const STANDINGS = ['none', 'active', 'rotating', 'expired', 'suspended', 'retired', 'revoked'] as const satisfies readonly KeyStanding[];
// Fails to compile when the keys capability gains a status this test does not list.
type Unlisted = Exclude<KeyStanding, (typeof STANDINGS)[number]>;
const everyStandingListed: [Unlisted] extends [never] ? true : never = true;

const KINDS = ['keyturn', 'aws'] as const;

/** The whole table, written out: what the response does for each case. */
function expected(recorded: boolean, kind: string, key: KeyStanding, mode: 'suspend' | 'revoke'): LeakDecision {
  if (recorded) return 'already_reported';
  switch (key) {
    case 'none':
      return kind === 'keyturn' ? 'not_ours' : 'third_party';
    case 'active':
    case 'rotating':
    case 'expired': // an active key past its expiry: stored as active, so quarantined like one
      return mode;
    case 'suspended':
    case 'retired':
    case 'revoked':
      return 'key_inactive';
  }
}

describe('classifyFinding', () => {
  const cases = [true, false].flatMap((recorded) =>
    KINDS.flatMap((kind) => STANDINGS.flatMap((key) => LEAK_MODES.map((mode) => ({ recorded, kind, key, mode })))),
  );

  it('covers every (recorded, kind, key standing, mode) case', () => {
    expect(everyStandingListed).toBe(true);
    expect(cases).toHaveLength(2 * KINDS.length * STANDINGS.length * LEAK_MODES.length);
  });

  it.each(cases)('recorded=$recorded kind=$kind key=$key mode=$mode', (facts) => {
    expect(classifyFinding(facts)).toBe(expected(facts.recorded, facts.kind, facts.key, facts.mode));
  });

  it('acts only on a live key of ours, never on a recorded finding, a foreign or an inactive key', () => {
    const acting = cases.filter((facts) => ['suspend', 'revoke'].includes(classifyFinding(facts)));
    expect(acting.every((f) => !f.recorded && ['active', 'rotating', 'expired'].includes(f.key))).toBe(true);
    expect(acting.every((f) => classifyFinding(f) === f.mode)).toBe(true);
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
      ['key_inactive', 'inactive'],
      ['not_ours', 'unknown'],
      ['third_party', 'third_party'],
    ]);
  });
});
