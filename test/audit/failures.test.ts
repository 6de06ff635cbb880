import { describe, expect, it } from 'vitest';
import { FailureAggregator, MAX_CLAIMED_LENGTH, sanitizeClaimed, type FailureGroupKey } from '../../src/audit/failures.js';
import { manualContext } from '../../src/core/context.js';

const key = (over: Partial<FailureGroupKey> = {}): FailureGroupKey => ({ type: 'key.verify_failed', subject: null, reason: 'unknown', network: '192.0.2.1', ...over });

describe('FailureAggregator', () => {
  it('records the first failure of a group, counts the rest, and summarises them when the window ends', () => {
    const ctx = manualContext(new Date('2026-01-01T00:00:00Z'));
    const agg = new FailureAggregator({ windowMs: 60_000, now: () => ctx.now().getTime() });
    expect(agg.admit(key())).toBe('record');
    for (let i = 0; i < 999; i++) expect(agg.admit(key())).toBe('count');
    expect(agg.closed()).toEqual([]); // the window is still open
    ctx.advance(60_000);
    const [summary, ...rest] = agg.closed();
    expect(rest).toEqual([]);
    expect(summary).toMatchObject({ ...key(), count: 999, overflow: false, firstAt: Date.parse('2026-01-01T00:00:00Z') });
    expect(agg.size).toBe(0);
    expect(agg.admit(key())).toBe('record'); // a new window starts in full again
  });

  it('keeps groups apart by subject, reason and network', () => {
    const ctx = manualContext(new Date('2026-01-01T00:00:00Z'));
    const agg = new FailureAggregator({ now: () => ctx.now().getTime() });
    expect(agg.admit(key())).toBe('record');
    expect(agg.admit(key({ network: '192.0.2.2' }))).toBe('record');
    expect(agg.admit(key({ reason: 'revoked', subject: 'key_1' }))).toBe('record');
    expect(agg.admit(key({ reason: 'revoked', subject: 'key_2' }))).toBe('record');
    expect(agg.admit(key({ reason: 'revoked', subject: 'key_2' }))).toBe('count');
    ctx.advance(60_000);
    expect(agg.closed().map((s) => [s.subject, s.count])).toEqual([['key_2', 1]]); // groups of one need no summary
  });

  it('bounds what a flood of distinct groups can write: past maxGroups everything folds into one overflow group', () => {
    const ctx = manualContext(new Date('2026-01-01T00:00:00Z'));
    const agg = new FailureAggregator({ maxGroups: 100, now: () => ctx.now().getTime() });
    let recorded = 0;
    for (let i = 0; i < 100_000; i++) if (agg.admit(key({ subject: `claimed-${i}`, network: `10.0.${i >> 8 & 255}.${i & 255}` })) === 'record') recorded++;
    expect(recorded).toBe(100);
    expect(agg.size).toBe(101);
    ctx.advance(60_000);
    const summaries = agg.closed();
    expect(summaries).toEqual([expect.objectContaining({ overflow: true, network: 'many', subject: null, count: 99_900 })]);
  });

  it('closes a group early when the next window opens before closed() ran, and summarises both', () => {
    const ctx = manualContext(new Date('2026-01-01T00:00:00Z'));
    const agg = new FailureAggregator({ windowMs: 1_000, now: () => ctx.now().getTime() });
    agg.admit(key());
    agg.admit(key());
    ctx.advance(1_500);
    expect(agg.admit(key())).toBe('record');
    agg.admit(key());
    expect(agg.closed(true).map((s) => s.count)).toEqual([1, 1]);
  });
});

describe('sanitizeClaimed', () => {
  it('bounds and cleans a caller-supplied identifier', () => {
    const long = sanitizeClaimed('x'.repeat(60_000));
    expect(long).toHaveLength(MAX_CLAIMED_LENGTH);
    expect(long.endsWith('…')).toBe(true);
    expect(sanitizeClaimed('ktc_abc\n\u0000é')).toBe('ktc_abc???');
    expect(sanitizeClaimed('ktc_plain')).toBe('ktc_plain');
  });
});
