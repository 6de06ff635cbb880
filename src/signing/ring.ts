import { createPrivateKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { appendEvent, SYSTEM, type RequestMeta } from '../audit/index.js';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { isLive, SIGNING_KEY_LIFECYCLE, type StateOf } from '../core/lifecycle.js';
import type { Queryable, Store, Transaction } from '../store/port.js';
import type { KeyEncryption } from './kek.js';

/** Algorithms keyturn signs with; nothing else is ever accepted. */
export const SIGNING_ALGS = ['ES256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** The states of {@link SIGNING_KEY_LIFECYCLE}: `next` → `active` (signs) → `retired`. */
export type SigningKeyStatus = StateOf<typeof SIGNING_KEY_LIFECYCLE>;

/** A signing key as listed (never the private half). */
export interface SigningKeyView {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly status: SigningKeyStatus;
  readonly createdAt: string;
  readonly activatedAt: string | null;
  readonly retiredAt: string | null;
  /** Retired keys stay in the JWKS until this time (their last token's expiry). */
  readonly publishUntil: string | null;
}

interface Row {
  kid: string;
  alg: SigningAlg;
  status: SigningKeyStatus;
  public_jwk: string;
  private_sealed: string;
  created_at: number;
  activated_at: number | null;
  retired_at: number | null;
  publish_until: number | null;
}

/** A usable signing key. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly privateKey: KeyObject;
}

export const SIGNING_CHANNEL = 'signing';

export interface SigningKeyRingOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly sealer: KeyEncryption;
  readonly algs: readonly SigningAlg[];
  /**
   * When the last token signed with `kid` expires (ms since the epoch), or `null` if none: a
   * retired key stays in the JWKS until then (plus a minute of clock skew).
   */
  readonly lastExpiry: (db: Queryable, kid: string) => Promise<number | null>;
}

const iso = (ms: number | null) => (ms == null ? null : new Date(ms).toISOString());

/**
 * The signing key ring. For each algorithm there is always one `active` key that signs and one
 * `next` key that is already in the JWKS (so verifiers know it before it signs). Rotation retires
 * the active key (kept in the JWKS until every token it signed has expired), promotes next, and
 * creates a new next. All nodes reload on the `signing` channel.
 */
export class SigningKeyRing {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #sealer: KeyEncryption;
  readonly #algs: readonly SigningAlg[];
  readonly #lastExpiry: (db: Queryable, kid: string) => Promise<number | null>;
  #rows: Row[] = [];
  #private = new Map<string, KeyObject>();
  #jwks: { keys: JWK[] } = { keys: [] };
  #loaded: Promise<void> | undefined;
  #loadedAt = 0;
  readonly #unsubscribe: () => void;

  constructor(options: SigningKeyRingOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#sealer = options.sealer;
    this.#algs = options.algs;
    this.#lastExpiry = options.lastExpiry;
    this.#unsubscribe = this.#store.subscribe(SIGNING_CHANNEL, () => {
      this.#loaded = this.#load();
      this.#loaded.catch(() => undefined);
    });
  }

  close(): void {
    this.#unsubscribe();
  }

  /** Creates the active and next key of each algorithm where missing (first start). */
  async ensure(): Promise<void> {
    await this.#store.transaction(async (tx) => {
      for (const alg of this.#algs) {
        const rows = await tx.all<Row>("SELECT * FROM signing_keys WHERE alg = ? AND status IN ('active', 'next')", [alg]);
        if (!rows.some((r) => r.status === 'active')) await this.#create(tx, alg, 'active');
        if (!rows.some((r) => r.status === 'next')) await this.#create(tx, alg, 'next');
      }
    });
    await this.#load();
  }

  async #create(tx: Transaction, alg: SigningAlg, status: 'active' | 'next'): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    const privateJwk = await exportJWK(privateKey);
    const now = this.#ctx.now().getTime();
    await tx.run(
      `INSERT INTO signing_keys (kid, alg, status, public_jwk, private_sealed, created_at, activated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [kid, alg, status, JSON.stringify({ ...publicJwk, kid, alg, use: 'sig' }), this.#sealer.seal(JSON.stringify(privateJwk), kid), now, status === 'active' ? now : null],
    );
    tx.notify(SIGNING_CHANNEL, kid);
    return kid;
  }

  async #load(): Promise<void> {
    // A node that had not yet heard of a rotation may have signed with the retired key a moment
    // after it: keep a retired key published until its actual last token expires.
    const now = this.#ctx.now().getTime();
    for (const row of await this.#store.all<Row>("SELECT * FROM signing_keys WHERE status = 'retired' AND publish_until > ?", [now])) {
      const last = await this.#lastExpiry(this.#store, row.kid);
      if (last !== null && last + 60_000 > (row.publish_until ?? 0)) {
        await this.#store.run('UPDATE signing_keys SET publish_until = ? WHERE kid = ? AND publish_until < ?', [last + 60_000, row.kid, last + 60_000]);
      }
    }
    const rows = await this.#store.all<Row>('SELECT * FROM signing_keys ORDER BY created_at, kid');
    const priv = new Map<string, KeyObject>();
    for (const row of rows) {
      if (row.status === 'retired') continue;
      const cached = this.#private.get(row.kid);
      priv.set(row.kid, cached ?? createPrivateKey({ key: JSON.parse(this.#sealer.open(row.private_sealed, row.kid)) as JWK & { kty: string }, format: 'jwk' }));
    }
    this.#rows = rows;
    this.#private = priv;
    this.#jwks = this.#publish(now);
    this.#loadedAt = now;
  }

  #publish(now: number): { keys: JWK[] } {
    const order: Record<SigningKeyStatus, number> = { active: 0, next: 1, retired: 2 };
    const live = this.#rows.filter((r) => r.status !== 'retired' || (r.publish_until ?? 0) > now);
    live.sort((a, b) => order[a.status] - order[b.status]);
    return { keys: live.map((r) => JSON.parse(r.public_jwk) as JWK) };
  }

  async #ready(): Promise<void> {
    this.#loaded ??= this.#load();
    await this.#loaded;
  }

  /** The key that signs now for `alg`. */
  async signingKey(alg: SigningAlg): Promise<SigningKey> {
    await this.#ready();
    const row = this.#rows.find((r) => r.alg === alg && isLive(SIGNING_KEY_LIFECYCLE, r.status));
    const privateKey = row && this.#private.get(row.kid);
    if (!row || !privateKey) throw new KeyturnError('ERR_CONFIG', `no active ${alg} signing key (is ${alg} enabled?)`);
    return { kid: row.kid, alg, privateKey };
  }

  /** The public JWK Set: active, next, and retired keys still needed. Re-read at most once a minute. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.#ready();
    const now = this.#ctx.now().getTime();
    if (now - this.#loadedAt > 60_000) {
      this.#loadedAt = now;
      this.#loaded = this.#load();
      await this.#loaded;
    }
    if (this.#rows.some((r) => r.status === 'retired' && (r.publish_until ?? 0) <= now && this.#jwks.keys.some((k) => k.kid === r.kid))) {
      this.#jwks = this.#publish(now);
    }
    return this.#jwks;
  }

  async list(): Promise<SigningKeyView[]> {
    const rows = await this.#store.all<Row>('SELECT * FROM signing_keys ORDER BY created_at, kid');
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg,
      status: r.status,
      createdAt: new Date(r.created_at).toISOString(),
      activatedAt: iso(r.activated_at),
      retiredAt: iso(r.retired_at),
      publishUntil: iso(r.publish_until),
    }));
  }

  /**
   * Rotates `alg` (or every algorithm): next → active, active → retired (published until its last
   * token expires), and a new next. With `onlyIfOlderThan` (ms), rotates only an active key at least
   * that old — the scheduled rotation, which several nodes may attempt at once: the conditional
   * update lets exactly one win.
   */
  async rotate(options: { alg?: SigningAlg; onlyIfOlderThan?: number; meta?: RequestMeta } = {}): Promise<string[]> {
    const rotated: string[] = [];
    for (const alg of options.alg ? [options.alg] : this.#algs) {
      const kid = await this.#store.transaction(async (tx) => {
        const now = this.#ctx.now().getTime();
        const active = await tx.get<Row>("SELECT * FROM signing_keys WHERE alg = ? AND status = 'active'", [alg]);
        const next = await tx.get<Row>("SELECT * FROM signing_keys WHERE alg = ? AND status = 'next'", [alg]);
        if (!active || !next) throw new KeyturnError('ERR_CREDENTIAL_STATE', `the ${alg} ring is incomplete; restart to repair it`);
        if (options.onlyIfOlderThan !== undefined && now - (active.activated_at ?? active.created_at) < options.onlyIfOlderThan) return undefined;
        const lastExpiry = await this.#lastExpiry(tx, active.kid);
        const claimed = await tx.run(
          "UPDATE signing_keys SET status = 'retired', retired_at = ?, publish_until = ? WHERE kid = ? AND status = 'active'",
          [now, Math.max(now, lastExpiry ?? now) + 60_000, active.kid],
        );
        if (claimed.changes !== 1) return undefined;
        await tx.run("UPDATE signing_keys SET status = 'active', activated_at = ? WHERE kid = ? AND status = 'next'", [now, next.kid]);
        const created = await this.#create(tx, alg, 'next');
        // Keys retired so long ago that no token they signed can still be valid.
        await tx.run("DELETE FROM signing_keys WHERE status = 'retired' AND publish_until < ?", [now - 86_400_000]);
        await appendEvent(
          tx,
          this.#ctx,
          { type: 'signing_key.rotated', target: next.kid, outcome: 'success', data: { alg, retired: active.kid, next: created } },
          options.meta ?? SYSTEM,
        );
        return next.kid;
      });
      if (kid) rotated.push(kid);
    }
    await this.#load();
    return rotated;
  }
}
