import { z } from 'zod';
import { appendEvent, type RequestMeta } from '../audit/index.js';
import { ChangeCache, followChanges } from '../core/change-cache.js';
import type { Context } from '../core/context.js';
import { parseDuration } from '../core/duration.js';
import { KeyturnError } from '../core/errors.js';
import { API_KEY_LIFECYCLE, isLive, isLiveAt, PRINCIPAL_LIFECYCLE, transition, type StateOf } from '../core/lifecycle.js';
import { checkCursor, newId } from '../core/ids.js';
import { assertPrefix, generateSecret, MAX_SECRET_LENGTH, parseSecret, secretDigest, secretDisplay, tryParseSecret } from '../core/secret.js';
import { scopeSchema } from '../core/scopes.js';
import { validate } from '../core/validate.js';
import { metadataSchema, PRINCIPALS_CHANNEL, principalStanding, recordExposure, type Principal, type PrincipalService } from '../principals/index.js';
import type { Queryable, Store, Transaction } from '../store/port.js';

/** A stored key status: the states of {@link API_KEY_LIFECYCLE}. */
export type KeyStatus = StateOf<typeof API_KEY_LIFECYCLE>;

/** An API key as shown after creation: everything but the secret. */
export interface KeyView {
  readonly id: string;
  readonly principal: string;
  readonly name: string;
  readonly prefix: string;
  /** Prefix and first four characters of the body, e.g. `kt_live_3hGq`. */
  readonly start: string;
  readonly last4: string;
  readonly scopes: readonly string[];
  /** Stored status, or `expired` for a live key past its expiry. */
  readonly status: KeyStatus | 'expired';
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly metadata: Record<string, unknown>;
}

/** The answer to "is this key good?": a result, not an exception (only an outage throws). */
export type Verification =
  | { readonly valid: true; readonly key: VerifiedKey }
  | { readonly valid: false; readonly reason: VerificationFailure };

export type VerificationFailure = 'malformed' | 'unknown' | 'expired' | 'revoked' | 'suspended' | 'principal_inactive';

/** What the verification cache keeps about a live key: never the secret. */
interface CachedKey {
  /** The answer for this key while it has not expired: built once, shared by every hit. */
  readonly answer: { readonly valid: true; readonly key: VerifiedKey };
  /** Key id: a change on the keys channel names it. */
  readonly id: string;
  /** Expiry in ms (the answer carries it as ISO text), or `null`. */
  readonly expiresAt: number | null;
}

export interface VerifiedKey {
  readonly id: string;
  readonly principal: string;
  readonly principalName: string;
  readonly principalKind: 'user' | 'service';
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresAt: string | null;
}

export const createKeySchema = z.strictObject({
  owner: z.string().min(1).max(128),
  name: z.string().min(1).max(128),
  scopes: z.array(scopeSchema).max(64).default([]),
  /** ISO time, or use `expiresIn`. */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  expiresIn: z.string().max(32).optional(),
  metadata: metadataSchema.optional(),
});

interface KeyRow {
  id: string;
  principal_id: string;
  name: string;
  prefix: string;
  digest: string;
  start: string;
  last4: string;
  scopes: string;
  status: KeyStatus;
  created_at: number;
  created_by: string | null;
  expires_at: number | null;
  revoked_at: number | null;
  metadata: string;
}

/** Channel on which the id of every changed key is announced. */
export const KEYS_CHANNEL = 'keys';

/** One key changed (see {@link KeyService.changes}). */
export interface KeyChange {
  readonly keyId: string;
}

const iso = (ms: number | null) => (ms == null ? null : new Date(ms).toISOString());

/** The key's row, or `ERR_NOT_FOUND`. */
async function keyRow(db: Queryable, id: string): Promise<KeyRow> {
  const row = await db.get<KeyRow>('SELECT * FROM api_keys WHERE id = ?', [id]);
  if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such key');
  return row;
}

export interface KeyServiceOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly principals: PrincipalService;
  /** Prefix of new API keys, e.g. `kt_live`. */
  readonly prefix: string;
  readonly cacheMaxEntries?: number;
  /** Longest time a cached answer is trusted without a fresh read, whatever the feed says. */
  readonly cacheMaxAgeMs?: number;
}

/**
 * API keys: create (secret returned once), list, show, revoke, and verify. Verification reads
 * from a digest-keyed in-process cache that the store's change feed keeps current, so a revoke on
 * any node is honoured by every node as soon as its notification arrives.
 */
export class KeyService {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #principals: PrincipalService;
  readonly #prefix: string;
  /** Digest → live key; a key change drops its entry, a principal change (or a feed gap) everything. */
  readonly #cache: ChangeCache<CachedKey>;
  readonly #cacheMaxAgeMs: number;
  readonly #unsubscribe: () => void;

  constructor(options: KeyServiceOptions) {
    assertPrefix(options.prefix);
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#principals = options.principals;
    this.#prefix = options.prefix;
    this.#cache = new ChangeCache<CachedKey>({ maxEntries: options.cacheMaxEntries ?? 100_000, idOf: (key) => key.id });
    this.#cacheMaxAgeMs = options.cacheMaxAgeMs ?? 300_000;
    this.#unsubscribe = followChanges((channel, listener) => this.#store.subscribe(channel, listener), this.#cache, {
      byId: [KEYS_CHANNEL],
      all: [PRINCIPALS_CHANNEL],
    });
  }

  /** Stops following the change feed. */
  close(): void {
    this.#unsubscribe();
  }

  /**
   * Follows what makes a verification stale, after commit, on this node and (through the store's
   * change feed) every other: `{ keyId }` when one key changed, `null` when anything may have
   * (a principal changed, or the feed was interrupted). Returns the function that stops following.
   * The change stream `GET /v1/keys/changes` serves exactly this.
   */
  changes(listener: (change: KeyChange | null) => void): () => void {
    const stops = [
      this.#store.subscribe(KEYS_CHANNEL, (id) => listener(id === null ? null : { keyId: id })),
      this.#store.subscribe(PRINCIPALS_CHANNEL, () => listener(null)),
    ];
    return () => {
      for (const stop of stops) stop();
    };
  }

  /** Creates a key for `owner` (principal id or name); the secret is in the answer and nowhere else. */
  async create(input: unknown, meta: RequestMeta): Promise<{ key: KeyView; secret: string }> {
    const data = validate(createKeySchema, input);
    return this.#store.transaction((tx) => this.createIn(tx, data, meta));
  }

  /** Same as {@link create}, inside a caller's transaction. */
  async createIn(tx: Transaction, data: z.output<typeof createKeySchema>, meta: RequestMeta): Promise<{ key: KeyView; secret: string }> {
    const now = this.#ctx.now().getTime();
    const expiresAt = this.#expiry(data, now);
    const owner = await this.#principals.find(data.owner, tx);
    if (!owner) throw new KeyturnError('ERR_NOT_FOUND', 'owner: no such principal');
    if (!isLive(PRINCIPAL_LIFECYCLE, owner.status)) throw new KeyturnError('ERR_PRINCIPAL_INACTIVE', `owner is ${owner.status}`);
    // A name picks one key among an owner's working ones (the tour, a deploy script): it is unique
    // among active and suspended keys (an index keeps it so under concurrency); revoked, retired and
    // rotating keys free it (a successor keeps its predecessor's name).
    const same = await tx.get<{ id: string }>("SELECT id FROM api_keys WHERE principal_id = ? AND name = ? AND status IN ('active', 'suspended')", [owner.id, data.name]);
    if (same) throw new KeyturnError('ERR_CONFLICT', `${owner.name} already has a key named '${data.name}' (${same.id}); revoke it or pick another name`);
    const secret = generateSecret(this.#prefix, this.#ctx);
    const display = secretDisplay(parseSecret(secret));
    const scopes = [...new Set(data.scopes)];
    const row: KeyRow = {
      id: newId('key', this.#ctx),
      principal_id: owner.id,
      name: data.name,
      prefix: this.#prefix,
      digest: secretDigest(secret),
      start: display.start,
      last4: display.last4,
      scopes: JSON.stringify(scopes),
      status: 'active',
      created_at: now,
      created_by: meta.actor,
      expires_at: expiresAt,
      revoked_at: null,
      metadata: JSON.stringify(data.metadata ?? {}),
    };
    await tx.run(
      `INSERT INTO api_keys (id, principal_id, name, prefix, digest, start, last4, scopes, status, created_at, created_by, expires_at, revoked_at, metadata)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        row.id,
        row.principal_id,
        row.name,
        row.prefix,
        row.digest,
        row.start,
        row.last4,
        row.scopes,
        row.status,
        row.created_at,
        row.created_by,
        row.expires_at,
        row.revoked_at,
        row.metadata,
      ],
    );
    await recordExposure(tx, this.#ctx, meta, { type: 'api_key', id: row.id }, 'created');
    await appendEvent(
      tx,
      this.#ctx,
      { type: 'key.created', target: row.id, outcome: 'success', data: { principal: owner.id, name: row.name, scopes, expiresAt: iso(expiresAt) } },
      meta,
    );
    return { key: this.#view(row, now), secret };
  }

  #expiry(data: z.output<typeof createKeySchema>, now: number): number | null {
    if (data.expiresAt && data.expiresIn) throw new KeyturnError('ERR_VALIDATION', 'give expiresAt or expiresIn, not both');
    if (data.expiresIn) return now + parseDuration(data.expiresIn);
    if (data.expiresAt) {
      const at = Date.parse(data.expiresAt);
      if (at <= now) throw new KeyturnError('ERR_VALIDATION', 'expiresAt: must be in the future');
      return at;
    }
    return null;
  }

  async get(id: string): Promise<KeyView> {
    const row = await keyRow(this.#store, id);
    return this.#view(row, this.#ctx.now().getTime());
  }

  /** Keys in id order, optionally of one owner; `after` is the last id of the previous page. */
  async list(query: { owner?: string; limit?: number; after?: string } = {}): Promise<KeyView[]> {
    const where = ['id > ?'];
    const params: (string | number)[] = [checkCursor('key', query.after)];
    if (query.owner) {
      const owner = await this.#principals.get(query.owner);
      where.push('principal_id = ?');
      params.push(owner.id);
    }
    params.push(Math.min(Math.max(query.limit ?? 100, 1), 1000));
    const rows = await this.#store.all<KeyRow>(`SELECT * FROM api_keys WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, params);
    const now = this.#ctx.now().getTime();
    return rows.map((row) => this.#view(row, now));
  }

  /** Revokes a key for good. Revoking a revoked key is a no-op answer, not an error. */
  async revoke(id: string, meta: RequestMeta, reason?: string): Promise<KeyView> {
    return this.#store.transaction((tx) => this.revokeIn(tx, id, meta, reason));
  }

  /** Same as {@link revoke}, inside a caller's transaction (leak response). */
  async revokeIn(tx: Transaction, id: string, meta: RequestMeta, reason?: string): Promise<KeyView> {
    const row = await keyRow(tx, id);
    const now = this.#ctx.now().getTime();
    if (!transition(API_KEY_LIFECYCLE, row.status, 'revoke').changed) return this.#view(row, now);
    await tx.run("UPDATE api_keys SET status = 'revoked', revoked_at = ? WHERE id = ?", [now, id]);
    await appendEvent(tx, this.#ctx, { type: 'key.revoked', target: id, outcome: 'success', reason: reason ?? null, data: { previous: row.status } }, meta);
    tx.notify(KEYS_CHANNEL, id);
    return this.#view({ ...row, status: 'revoked', revoked_at: now }, now);
  }

  /**
   * Quarantines a live (`active` or `rotating`) key: verification then fails with reason
   * `suspended` until {@link unsuspend}. Suspending a suspended key is a no-op answer; a
   * revoked or retired key cannot be suspended (`ERR_KEY_STATE`; see {@link API_KEY_LIFECYCLE}).
   */
  async suspend(id: string, meta: RequestMeta, reason?: string): Promise<KeyView> {
    return this.#store.transaction((tx) => this.suspendIn(tx, id, meta, reason));
  }

  /** Same as {@link suspend}, inside a caller's transaction (leak response). */
  async suspendIn(tx: Transaction, id: string, meta: RequestMeta, reason?: string): Promise<KeyView> {
    const row = await keyRow(tx, id);
    const now = this.#ctx.now().getTime();
    const step = transition(API_KEY_LIFECYCLE, row.status, 'suspend');
    if (!step.changed) return this.#view(row, now);
    // Conditional on the status read above, so a concurrent revoke is never overwritten.
    const changed = await tx.run('UPDATE api_keys SET status = ? WHERE id = ? AND status = ?', [step.to, id, row.status]);
    if (changed.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the key changed concurrently; try again');
    await appendEvent(tx, this.#ctx, { type: 'key.suspended', target: id, outcome: 'success', reason: reason ?? null, data: { previous: row.status } }, meta);
    tx.notify(KEYS_CHANNEL, id);
    return this.#view({ ...row, status: step.to }, now);
  }

  /** Lifts a suspension: the key is `active` again. An active key is a no-op answer; others are `ERR_KEY_STATE`. */
  async unsuspend(id: string, meta: RequestMeta): Promise<KeyView> {
    return this.#store.transaction(async (tx) => {
      const row = await keyRow(tx, id);
      const now = this.#ctx.now().getTime();
      const step = transition(API_KEY_LIFECYCLE, row.status, 'unsuspend');
      if (!step.changed) return this.#view(row, now);
      const changed = await tx.run('UPDATE api_keys SET status = ? WHERE id = ? AND status = ?', [step.to, id, row.status]);
      if (changed.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the key changed concurrently; try again');
      await appendEvent(tx, this.#ctx, { type: 'key.unsuspended', target: id, outcome: 'success', data: { previous: row.status } }, meta);
      tx.notify(KEYS_CHANNEL, id);
      return this.#view({ ...row, status: step.to }, now);
    });
  }

  /** The key whose stored digest is `digest` (a leak finding's fingerprint), if any. */
  async findByDigest(digest: string, db: Queryable = this.#store): Promise<KeyView | undefined> {
    const row = await db.get<KeyRow>('SELECT * FROM api_keys WHERE digest = ?', [digest]);
    return row && this.#view(row, this.#ctx.now().getTime());
  }

  /** The principal `key` acts for, read in `db` (the leak response reads it in its transaction to tell the owner). */
  async ownerOf(key: KeyView, db: Queryable = this.#store): Promise<Principal | undefined> {
    return this.#principals.byId(key.principal, db);
  }

  /**
   * Verifies a presented key. Hot path: checksum, SHA-256, one cache lookup. A failure appends a
   * `key.verify_failed` event with the exact reason (never the key) before answering.
   */
  async verify(presented: string, meta: RequestMeta): Promise<Verification> {
    const result = await this.check(presented);
    if (!result.valid) await this.recordFailure('key.verify_failed', result, presented, meta);
    return result;
  }

  /** {@link verify} without the failure event: for callers that record their own. */
  async check(presented: string): Promise<Verification> {
    const parsed = tryParseSecret(presented);
    if (!parsed) return { valid: false, reason: 'malformed' };
    const digest = secretDigest(parsed.text);
    const now = this.#ctx.now().getTime();
    const cached = this.#cache.get(digest, now);
    if (cached) return this.#judge(cached, now);
    const generation = this.#cache.generation;
    const row = await this.#store.get<KeyRow>('SELECT * FROM api_keys WHERE digest = ?', [digest]);
    const owner = row === undefined ? undefined : await principalStanding(this.#store, row.principal_id);
    if (!row || !owner) return { valid: false, reason: 'unknown' };
    if (!isLive(API_KEY_LIFECYCLE, row.status)) return { valid: false, reason: row.status === 'suspended' ? 'suspended' : 'revoked' };
    if (!isLive(PRINCIPAL_LIFECYCLE, owner.status)) return { valid: false, reason: 'principal_inactive' };
    const entry: CachedKey = {
      id: row.id,
      expiresAt: row.expires_at,
      answer: Object.freeze({
        valid: true as const,
        key: Object.freeze({
          id: row.id,
          principal: row.principal_id,
          principalName: owner.name,
          principalKind: owner.kind,
          name: row.name,
          scopes: Object.freeze(JSON.parse(row.scopes) as string[]),
          expiresAt: iso(row.expires_at),
        }),
      }),
    };
    this.#cache.set(digest, entry, now + this.#cacheMaxAgeMs, now, generation);
    return this.#judge(entry, now);
  }

  /**
   * Appends the event for a failed verification (`type` lets the admin gate record its own).
   * Resolves to the id of the key presented, when it is one of ours (its holder may be told).
   */
  async recordFailure(
    type: 'key.verify_failed' | 'admin.auth_failed',
    result: Verification & { valid: false },
    presented: string,
    meta: RequestMeta,
  ): Promise<string | null> {
    const parsed = tryParseSecret(presented);
    const target = parsed ? await this.#idOf(secretDigest(parsed.text)) : null;
    await this.#store.transaction((tx) =>
      appendEvent(tx, this.#ctx, { type, target, outcome: 'failure', reason: result.reason, data: parsed ? { prefix: parsed.prefix } : {} }, meta),
    );
    return target;
  }

  async #idOf(digest: string): Promise<string | null> {
    const row = await this.#store.get<{ id: string }>('SELECT id FROM api_keys WHERE digest = ?', [digest]);
    return row?.id ?? null;
  }

  /** Only live keys are cached: the answer, unless the key has expired since. */
  #judge(key: CachedKey, now: number): Verification {
    if (key.expiresAt !== null && key.expiresAt <= now) return { valid: false, reason: 'expired' };
    return key.answer;
  }

  /**
   * The positive answer for a key this node has cached, synchronously; `undefined` when the store
   * must be asked or the answer is a refusal (refusals go through {@link verify}, which records
   * them). The returned object is frozen and the same for every hit, so callers may memoise on it.
   */
  peek(presented: string): (Verification & { valid: true }) | undefined {
    // The cache holds only digests of real keys, so a hit proves the format: no checksum needed.
    if (typeof presented !== 'string' || presented.length > MAX_SECRET_LENGTH) return undefined;
    const now = this.#ctx.now().getTime();
    const cached = this.#cache.get(secretDigest(presented), now);
    return cached && (cached.expiresAt === null || cached.expiresAt > now) ? cached.answer : undefined;
  }


  #view(row: KeyRow, now: number): KeyView {
    const expired = isLive(API_KEY_LIFECYCLE, row.status) && !isLiveAt(API_KEY_LIFECYCLE, row.status, row.expires_at, now);
    return {
      id: row.id,
      principal: row.principal_id,
      name: row.name,
      prefix: row.prefix,
      start: row.start,
      last4: row.last4,
      scopes: JSON.parse(row.scopes) as string[],
      status: expired ? 'expired' : row.status,
      createdAt: new Date(row.created_at).toISOString(),
      expiresAt: iso(row.expires_at),
      revokedAt: iso(row.revoked_at),
      metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    };
  }
}
