/**
 * The one cache that a change feed keeps current, used by every cache of something the store (or,
 * for the verifier library, keyturn's change stream) may change behind its back: API key
 * verification, OAuth clients, the verifier's answers.
 *
 * Its rules, the same for every user:
 * - **A change message names what changed; `null` drops everything.** A feed that was interrupted
 *   (a lost LISTEN connection, a reconnected stream) may have missed messages, so
 *   {@link ChangeCache.change}`(null)` empties the cache.
 * - **A generation counter stops a stale read from being cached.** A read from the source races
 *   with changes arriving meanwhile: the caller takes {@link ChangeCache.generation} *before*
 *   reading and passes it to {@link ChangeCache.set}, which keeps nothing if any change (or clear)
 *   happened since. An answer read before a revocation is never cached after it.
 * - **Changes arrive after commit.** The store delivers a transaction's notifications only once it
 *   has committed (see `Transaction.notify`), so a read that starts after the message sees the
 *   change; a read that started before it is the race the generation counter covers.
 * - Entries are served while `now < deadline`; the cache holds at most `maxEntries` (the oldest
 *   insertion goes first; `0` caches nothing).
 *
 * Synchronous and allocation-light: it sits on the verification hot path.
 *
 * @example
 * ```ts
 * const cache = new ChangeCache<Answer>({ maxEntries: 10_000, idOf: (a) => a.keyId });
 * store.subscribe('keys', (id) => cache.change(id));
 * const generation = cache.generation;          // before reading
 * const answer = await readFromStore(digest);
 * cache.set(digest, answer, now + 30_000, now, generation); // ignored if a change came meanwhile
 * ```
 */
export class ChangeCache<V> {
  readonly #entries = new Map<string, { readonly value: V; readonly deadline: number }>();
  /** Change id → cache key, when entries are found by something other than their key. */
  readonly #keyById: Map<string, string> | undefined;
  readonly #idOf: ((value: V) => string) | undefined;
  readonly #max: number;
  #generation = 0;

  /**
   * @param options.maxEntries at most this many entries (`0`: cache nothing).
   * @param options.idOf the id a change message names for an entry, when it is not the cache key
   *   itself (e.g. the key id of an answer cached by digest). Without it, a change id is a cache key.
   */
  constructor(options: { readonly maxEntries: number; readonly idOf?: (value: V) => string }) {
    this.#max = options.maxEntries;
    this.#idOf = options.idOf;
    this.#keyById = options.idOf === undefined ? undefined : new Map();
  }

  /** The value cached under `key`, if its deadline is still ahead of `now`. */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.deadline) {
      this.#delete(key, entry.value);
      return undefined;
    }
    return entry.value;
  }

  /** Counter of changes and clears: read it before reading the source, pass it to {@link set}. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Keeps `value` under `key` until `deadline` (epoch ms), unless a change happened since
   * `generation` was read, the deadline is not ahead of `now`, or the cache holds nothing.
   * Returns whether the value was kept.
   */
  set(key: string, value: V, deadline: number, now: number, generation: number): boolean {
    if (generation !== this.#generation || deadline <= now || this.#max <= 0) return false;
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#delete(key, previous.value);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.entries().next();
      if (oldest.done) break;
      this.#delete(oldest.value[0], oldest.value[1].value);
    }
    this.#entries.set(key, { value, deadline });
    if (this.#idOf !== undefined) this.#keyById!.set(this.#idOf(value), key);
    return true;
  }

  /**
   * A change-feed message: `id` changed (its entry goes), or `null`: anything may have changed
   * (everything goes). Either way a read in flight is not cached. Usable as the listener itself.
   */
  change(id: string | null): void {
    if (id === null) {
      this.clear();
      return;
    }
    this.#generation++;
    const key = this.#keyById === undefined ? id : this.#keyById.get(id);
    if (key === undefined) return;
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#delete(key, entry.value);
    else this.#keyById?.delete(id);
  }

  /** Drops everything; a read in flight is not cached. */
  clear(): void {
    this.#generation++;
    this.#entries.clear();
    this.#keyById?.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  #delete(key: string, value: V): void {
    this.#entries.delete(key);
    if (this.#idOf !== undefined) {
      const id = this.#idOf(value);
      if (this.#keyById!.get(id) === key) this.#keyById!.delete(id);
    }
  }
}

/** How a cache listens to a change feed: the shape of `Store.subscribe`. */
export type Subscribe = (channel: string, listener: (message: string | null) => void) => () => void;

/**
 * Keeps `cache` current from `subscribe`: on each channel in `byId`, a message names the entry that
 * changed (`null`: everything); on each channel in `all`, any message drops everything (a change there
 * may touch many entries, e.g. a principal's status and every key it owns). Returns the function
 * that stops listening.
 */
export function followChanges(
  subscribe: Subscribe,
  cache: Pick<ChangeCache<unknown>, 'change' | 'clear'>,
  channels: { readonly byId?: readonly string[]; readonly all?: readonly string[] },
): () => void {
  const stops = [
    ...(channels.byId ?? []).map((channel) => subscribe(channel, (id) => cache.change(id))),
    ...(channels.all ?? []).map((channel) => subscribe(channel, () => cache.clear())),
  ];
  return () => {
    for (const stop of stops) stop();
  };
}
