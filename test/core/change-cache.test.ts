import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeCache, followChanges } from '../../src/core/change-cache.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

interface Answer {
  readonly keyId: string;
  readonly n: number;
}

const answer = (keyId: string, n = 1): Answer => ({ keyId, n });

describe('ChangeCache', () => {
  it('serves an entry while now < deadline, then drops it', () => {
    const cache = new ChangeCache<Answer>({ maxEntries: 10 });
    expect(cache.set('d1', answer('k1'), 1_000, 0, cache.generation)).toBe(true);
    expect(cache.get('d1', 999)).toEqual(answer('k1'));
    expect(cache.get('d1', 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps nothing already past its deadline, and nothing at all with maxEntries 0', () => {
    const cache = new ChangeCache<Answer>({ maxEntries: 10 });
    expect(cache.set('d1', answer('k1'), 100, 100, cache.generation)).toBe(false);
    const none = new ChangeCache<Answer>({ maxEntries: 0 });
    expect(none.set('d1', answer('k1'), 1_000, 0, none.generation)).toBe(false);
    expect(none.size).toBe(0);
  });

  it('evicts the oldest insertion when full; a re-set entry counts as new', () => {
    const cache = new ChangeCache<Answer>({ maxEntries: 2 });
    cache.set('a', answer('ka'), 1_000, 0, cache.generation);
    cache.set('b', answer('kb'), 1_000, 0, cache.generation);
    cache.set('a', answer('ka', 2), 1_000, 0, cache.generation);
    cache.set('c', answer('kc'), 1_000, 0, cache.generation);
    expect(cache.get('b', 0)).toBeUndefined();
    expect(cache.get('a', 0)).toEqual(answer('ka', 2));
    expect(cache.get('c', 0)).toEqual(answer('kc'));
    // The evicted entry's id no longer points anywhere: a change for it is harmless.
    cache.change('kb');
    expect(cache.size).toBe(2);
  });

  it('a change names an entry by its id (idOf) and drops only that one', () => {
    const cache = new ChangeCache<Answer>({ maxEntries: 10, idOf: (a) => a.keyId });
    cache.set('digest-1', answer('k1'), 1_000, 0, cache.generation);
    cache.set('digest-2', answer('k2'), 1_000, 0, cache.generation);
    cache.change('k1');
    expect(cache.get('digest-1', 0)).toBeUndefined();
    expect(cache.get('digest-2', 0)).toEqual(answer('k2'));
    cache.change('digest-2'); // a cache key is not an id when idOf is given
    expect(cache.get('digest-2', 0)).toEqual(answer('k2'));
  });

  it('without idOf, a change names the cache key', () => {
    const cache = new ChangeCache<Answer>({ maxEntries: 10 });
    cache.set('client-1', answer('x'), 1_000, 0, cache.generation);
    cache.set('client-2', answer('y'), 1_000, 0, cache.generation);
    cache.change('client-1');
    expect(cache.get('client-1', 0)).toBeUndefined();
    expect(cache.get('client-2', 0)).toEqual(answer('y'));
  });

  it('a null change drops everything', () => {
    const cache = new ChangeCache<Answer>({ maxEntries: 10, idOf: (a) => a.keyId });
    cache.set('d1', answer('k1'), 1_000, 0, cache.generation);
    cache.set('d2', answer('k2'), 1_000, 0, cache.generation);
    cache.change(null);
    expect(cache.size).toBe(0);
  });

  describe('the race: a read that started before an invalidation is never cached', () => {
    it('a change of the very entry during the read', () => {
      const cache = new ChangeCache<Answer>({ maxEntries: 10, idOf: (a) => a.keyId });
      const generation = cache.generation; // the read starts
      cache.change('k1'); // the key is revoked while the read is in flight
      expect(cache.set('d1', answer('k1'), 1_000, 0, generation)).toBe(false);
      expect(cache.get('d1', 0)).toBeUndefined();
    });

    it('a change of another entry, or of something not cached, also spoils the read (the id is not trusted)', () => {
      const cache = new ChangeCache<Answer>({ maxEntries: 10, idOf: (a) => a.keyId });
      const generation = cache.generation;
      cache.change('k-other');
      expect(cache.set('d1', answer('k1'), 1_000, 0, generation)).toBe(false);
    });

    it('a null change or a clear during the read', () => {
      const cache = new ChangeCache<Answer>({ maxEntries: 10 });
      let generation = cache.generation;
      cache.change(null);
      expect(cache.set('d1', answer('k1'), 1_000, 0, generation)).toBe(false);
      generation = cache.generation;
      cache.clear();
      expect(cache.set('d1', answer('k1'), 1_000, 0, generation)).toBe(false);
    });

    it('a read that starts after the invalidation is cached', () => {
      const cache = new ChangeCache<Answer>({ maxEntries: 10 });
      cache.change('k1');
      const generation = cache.generation;
      expect(cache.set('d1', answer('k1'), 1_000, 0, generation)).toBe(true);
    });

    it('two overlapping reads: the one that started before the change is dropped, the later one kept', async () => {
      const cache = new ChangeCache<Answer>({ maxEntries: 10, idOf: (a) => a.keyId });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const read = async (value: Answer) => {
        const generation = cache.generation;
        await gate;
        return cache.set('d1', value, 1_000, 0, generation);
      };
      const early = read(answer('k1', 1)); // reads "active"
      cache.change('k1'); // revoked meanwhile
      const late = read(answer('k1', 2)); // reads after the revocation
      release();
      expect(await early).toBe(false);
      expect(await late).toBe(true);
      expect(cache.get('d1', 0)).toEqual(answer('k1', 2));
    });
  });
});

describeStore('ChangeCache following a store', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  beforeEach(async () => {
    handle = await freshStore(kind);
    store = handle.store;
  });
  afterEach(async () => {
    await handle.dispose();
  });

  it('hears a change only after commit, and never from a rolled-back transaction', async () => {
    const cache = new ChangeCache<Answer>({ maxEntries: 10, idOf: (a) => a.keyId });
    const stop = followChanges((channel, listener) => store.subscribe(channel, listener), cache, { byId: ['t_keys'], all: ['t_owners'] });
    try {
      cache.set('d1', answer('k1'), Number.MAX_SAFE_INTEGER, 0, cache.generation);
      cache.set('d2', answer('k2'), Number.MAX_SAFE_INTEGER, 0, cache.generation);
      await expect(
        store.transaction(async (tx) => {
          tx.notify('t_keys', 'k1');
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(cache.get('d1', 0)).toEqual(answer('k1'));
      await store.transaction(async (tx) => {
        tx.notify('t_keys', 'k1');
        // Not yet committed: nothing is dropped, and a read started now is still cacheable.
        expect(cache.get('d1', 0)).toEqual(answer('k1'));
      });
      await waitFor(() => cache.get('d1', 0) === undefined);
      expect(cache.get('d2', 0)).toEqual(answer('k2'));
      await store.transaction(async (tx) => tx.notify('t_owners', 'anyone'));
      await waitFor(() => cache.size === 0);
    } finally {
      stop();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
