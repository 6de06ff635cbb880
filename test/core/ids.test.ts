import { describe, expect, it } from 'vitest';
import { manualContext, systemContext } from '../../src/core/context.js';
import { newId } from '../../src/core/ids.js';

describe('ids', () => {
  it('are <kind>_ and 22 base62 characters, distinct', () => {
    const ids = new Set(Array.from({ length: 5000 }, () => newId('key', systemContext)));
    expect(ids.size).toBe(5000);
    for (const id of ids) expect(id).toMatch(/^key_[0-9A-Za-z]{22}$/);
  });

  it('sort by creation time, to the millisecond', () => {
    const ctx = manualContext(new Date('2026-01-01T00:00:00Z'));
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      ids.push(newId('evt', ctx));
      ctx.advance(i % 3 === 0 ? 1 : 86_400_000);
    }
    expect([...ids].sort()).toEqual(ids);
    // the first 8 characters after the tag encode the time
    const late = manualContext(new Date('2100-01-01T00:00:00Z'));
    expect(newId('evt', late).slice(4, 12) > ids.at(-1)!.slice(4, 12)).toBe(true);
  });
});
