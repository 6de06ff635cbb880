import { writeEnvAssignment, writeFileAtomic } from './persist.js';

/** Where a new key goes before the holder uses it. */
export type KeyPersistence =
  /** A file that holds the key alone (written atomically, mode kept; 0600 when new). */
  | string
  /** One `NAME=value` line of an env file, rewritten atomically (mode kept). */
  | { readonly envFile: string; readonly variable: string }
  /** Your own store (a secret manager, a database): the holder waits for it before switching. */
  | ((key: string, rotation: RotatedKey) => void | Promise<void>);

/** One rotation the holder did or collected. */
export interface RotatedKey {
  /** The new key's id. */
  readonly id: string;
  /** The key it replaces, and until when the server still accepts that one (`null`: not any more). */
  readonly predecessor: { readonly id: string; readonly graceEndsAt: string | null };
}

export interface KeyHolderOptions {
  /** keyturn's base URL, e.g. `https://keyturn.internal:8443`. */
  readonly url: string;
  /** The key the service holds now. */
  readonly key: string;
  /** Where each new key is written before it is used; see {@link KeyPersistence}. */
  readonly persist: KeyPersistence;
  /** Rotate once the key is this close to when it stops working (ms; default 10 min). */
  readonly leadMs?: number;
  /** How often the key's state is checked (ms; default 60 000; `0`: only when you call `check()`). */
  readonly checkEveryMs?: number;
  /** The clock (ms since the epoch); default `Date.now`. */
  readonly now?: () => number;
  /** The fetch used to call keyturn (default: the global one). */
  readonly fetch?: typeof fetch;
  /** Called with each new key after it was persisted (or failed to be: see `onError`). */
  readonly onRotate?: (key: string, rotation: RotatedKey) => void;
  /** Problems that did not stop the service: a failed check, a failed persist (retried), a rotation it could not collect. */
  readonly onError?: (error: Error) => void;
}

/** A key that keeps itself current; see {@link createKeyHolder}. */
export interface KeyHolder {
  /** The key to present now. */
  key(): string;
  /** `Bearer <key>` for an `Authorization` header. */
  authorization(): string;
  /**
   * `fetch` with `Authorization: Bearer <key>`. A `401` answered to a key the holder has replaced
   * meanwhile is retried once with the new key (a body given as a string, bytes or form is resent).
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
  /** Looks at the key's state now and rotates (or collects a scheduled successor) when it is time; the rotation, or `null`. */
  check(): Promise<RotatedKey | null>;
  /** Rotates now, whatever the schedule says. */
  rotate(): Promise<RotatedKey>;
  /** Stops the periodic check. */
  close(): void;
}

/** What `POST /v1/keys/verify` says about rotation (absent: no schedule, deadline or grace). */
interface VerifyAnswer {
  readonly valid: boolean;
  readonly code?: string;
  readonly keyId?: string;
  readonly rotation?: { status: 'active' | 'rotating'; dueAt: string | null; sunset: string | null; softDeadline: string | null };
}

export class KeyHolderError extends Error {
  override readonly name = 'KeyHolderError';
  /** keyturn's error code, when it answered one (e.g. `ERR_KEY_STATE` naming a successor collected elsewhere). */
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/**
 * A self-rotating key holder for a service that holds a keyturn API key. It watches the key's
 * rotation state (`POST /v1/keys/verify`), and before the key is due or stops working — or as
 * soon as the server's scheduler has rotated it — calls `POST /v1/keys/self/rotate` with the key
 * itself, persists the successor, then switches to it. The old key keeps working for the
 * policy's grace, so calls in flight with it succeed: a service using the holder never sees a
 * failed call because of rotation.
 *
 * Imports nothing of the server: node built-ins and `fetch` only.
 *
 * @example
 * ```ts
 * import { createKeyHolder } from 'keyturn/client';
 * const holder = createKeyHolder({ url: 'https://keyturn.internal', key: process.env.API_KEY!, persist: { envFile: '.env', variable: 'API_KEY' } });
 * const res = await holder.fetch('https://api.internal/v1/things');
 * ```
 */
export function createKeyHolder(options: KeyHolderOptions): KeyHolder {
  const base = options.url.replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;
  const leadMs = options.leadMs ?? 600_000;
  const onError = options.onError ?? (() => {});
  let current = options.key;
  /** A key that is in use but not yet persisted (its persist failed): persisted again at each check. */
  let unpersisted: { key: string; rotation: RotatedKey } | null = null;
  let inFlight: Promise<RotatedKey | null> | null = null;
  let closed = false;

  async function persist(key: string, rotation: RotatedKey): Promise<void> {
    const target = options.persist;
    if (typeof target === 'function') await target(key, rotation);
    else if (typeof target === 'string') writeFileAtomic(target, `${key}\n`);
    else writeEnvAssignment(target.envFile, target.variable, key);
  }

  async function call<T>(path: string, init: RequestInit): Promise<{ status: number; body: T }> {
    const res = await doFetch(`${base}${path}`, { ...init, headers: { 'content-type': 'application/json', accept: 'application/json', ...init.headers } });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, body: body as T };
  }

  /** Calls self/rotate with the current key; persists, then switches. */
  async function rotateNow(): Promise<RotatedKey> {
    const presented = current;
    const res = await call<{ id?: string; key?: string; predecessor?: { id: string; graceEndsAt: string | null }; code?: string; error_description?: string; message?: string }>(
      '/v1/keys/self/rotate',
      { method: 'POST', headers: { authorization: `Bearer ${presented}` }, body: '{}' },
    );
    const body = res.body ?? {};
    if (res.status !== 200 || typeof body.key !== 'string' || typeof body.id !== 'string' || !body.predecessor) {
      const detail = body.error_description ?? body.message ?? `HTTP ${res.status}`;
      throw new KeyHolderError(`keyturn/client: self-rotation failed: ${detail}`, body.code);
    }
    const rotation: RotatedKey = { id: body.id, predecessor: { id: body.predecessor.id, graceEndsAt: body.predecessor.graceEndsAt } };
    try {
      await persist(body.key, rotation);
      unpersisted = null;
    } catch (err) {
      // The new key is the only copy now: use it anyway (the old one dies at its grace end) and keep trying to persist it.
      unpersisted = { key: body.key, rotation };
      onError(new KeyHolderError(`keyturn/client: persisting key ${rotation.id} failed (retried at the next check): ${(err as Error).message}`));
    }
    current = body.key;
    options.onRotate?.(body.key, rotation);
    return rotation;
  }

  function isTime(answer: VerifyAnswer, at: number): boolean {
    const r = answer.rotation;
    if (!r) return false;
    if (r.status === 'rotating') return true; // rotated by the scheduler or an administrator: collect the successor
    const due = r.dueAt === null ? Infinity : Date.parse(r.dueAt);
    const sunset = r.sunset === null ? Infinity : Date.parse(r.sunset);
    const soft = r.softDeadline === null ? Infinity : Date.parse(r.softDeadline);
    return due <= at || sunset - leadMs <= at || soft - leadMs <= at;
  }

  async function checkOnce(): Promise<RotatedKey | null> {
    const pending = unpersisted;
    if (pending) {
      try {
        await persist(pending.key, pending.rotation);
        if (unpersisted === pending) unpersisted = null;
      } catch (err) {
        onError(new KeyHolderError(`keyturn/client: persisting key ${pending.rotation.id} failed again: ${(err as Error).message}`));
      }
    }
    const res = await call<VerifyAnswer>('/v1/keys/verify', { method: 'POST', body: JSON.stringify({ key: current }) });
    if (res.status !== 200 || !res.body) throw new KeyHolderError(`keyturn/client: checking the key failed: HTTP ${res.status}`);
    if (!res.body.valid) throw new KeyHolderError(`keyturn/client: the held key does not verify (${res.body.code ?? 'invalid'})`, res.body.code);
    return isTime(res.body, now()) ? rotateNow() : null;
  }

  /** One check or rotation at a time: concurrent callers share it. */
  function exclusive(work: () => Promise<RotatedKey | null>): Promise<RotatedKey | null> {
    inFlight ??= work().finally(() => {
      inFlight = null;
    });
    return inFlight;
  }

  const everyMs = options.checkEveryMs ?? 60_000;
  const timer =
    everyMs > 0
      ? setInterval(() => {
          if (closed) return;
          exclusive(checkOnce).catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))));
        }, everyMs)
      : null;
  timer?.unref();

  return {
    key: () => current,
    authorization: () => `Bearer ${current}`,
    async fetch(input, init = {}) {
      const send = (key: string) => {
        if (init.headers === undefined) return doFetch(input, { ...init, headers: { authorization: `Bearer ${key}` } });
        const headers = new Headers(init.headers);
        headers.set('authorization', `Bearer ${key}`);
        return doFetch(input, { ...init, headers });
      };
      const used = current;
      const res = await send(used);
      if (res.status !== 401 || current === used) return res;
      const replayable = init.body === undefined || init.body === null || typeof init.body === 'string' || init.body instanceof Uint8Array || init.body instanceof URLSearchParams;
      if (!replayable) return res;
      await res.body?.cancel();
      return send(current);
    },
    check: () => exclusive(checkOnce),
    async rotate() {
      // Waits for a check in progress first, so two rotations never race with the same key.
      await inFlight?.catch(() => null);
      return (await exclusive(rotateNow))!;
    },
    close() {
      closed = true;
      if (timer) clearInterval(timer);
    },
  };
}
