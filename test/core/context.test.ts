import { describe, expect, it } from 'vitest';
import { manualContext, systemContext } from '../../src/core/context.js';

describe('contexts', () => {
  it('systemContext hands out independent random bytes of the asked length, never repeating', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const bytes = systemContext.random(16);
      expect(bytes).toHaveLength(16);
      const hex = Buffer.from(bytes).toString('hex');
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
    }
    const a = systemContext.random(32);
    const copy = Buffer.from(a);
    a.fill(0);
    systemContext.random(32);
    expect(Buffer.from(a).equals(Buffer.alloc(32))).toBe(true);
    expect(copy.equals(Buffer.alloc(32))).toBe(false);
    expect(systemContext.random(1000)).toHaveLength(1000);
  });

  it('manualContext moves time only when told', () => {
    const ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    expect(ctx.now().toISOString()).toBe('2030-01-01T00:00:00.000Z');
    ctx.advance(1500);
    expect(ctx.now().toISOString()).toBe('2030-01-01T00:00:01.500Z');
    ctx.set(new Date('2031-01-01T00:00:00Z'));
    expect(ctx.now().getUTCFullYear()).toBe(2031);
  });
});
