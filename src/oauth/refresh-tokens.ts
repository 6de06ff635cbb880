import { appendEvent, type RequestMeta } from '../audit/index.js';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { credentialFingerprint } from '../core/fingerprint.js';
import { newId } from '../core/ids.js';
import { isLive, REFRESH_FAMILY_LIFECYCLE, REFRESH_TOKEN_LIFECYCLE } from '../core/lifecycle.js';
import type { Policy } from '../core/policy.js';
import { generateSecret, secretDigest, tryParseSecret } from '../core/secret.js';
import type { Queryable, Store, Transaction } from '../store/port.js';
import { revokeGrantAccessTokens } from './access-tokens.js';

/** Where successful refreshes are counted (the audit usage log). */
export interface RefreshUsageCounter {
  note(credential: string, address: string | null | undefined, kind: 'refresh_token'): void;
}

/** A grant: the family of refresh tokens that descend from one client_credentials issuance. */
export interface Grant {
  readonly id: string;
  readonly clientId: string;
  readonly principal: string;
  readonly scopes: readonly string[];
  readonly audience: string;
  readonly generation: number;
  readonly status: 'active' | 'revoked';
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
  readonly revokeReason: string | null;
  /** The DPoP key thumbprint the family is bound to (RFC 9449 §5), or `null`. */
  readonly jkt: string | null;
}

interface GrantRow {
  id: string;
  client_id: string;
  principal_id: string;
  scopes: string;
  audience: string;
  generation: number;
  status: 'active' | 'revoked';
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
  dpop_jkt?: string | null;
}

interface TokenRow {
  id: string;
  grant_id: string;
  parent_id: string | null;
  generation: number;
  digest: string;
  status: 'active' | 'used' | 'revoked';
  created_at: number;
  expires_at: number;
  used_at: number | null;
  reuse_count: number;
}

function toGrant(row: GrantRow): Grant {
  return {
    id: row.id,
    clientId: row.client_id,
    principal: row.principal_id,
    scopes: JSON.parse(row.scopes) as string[],
    audience: row.audience,
    generation: row.generation,
    status: row.status,
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    revokedAt: row.revoked_at == null ? null : new Date(row.revoked_at).toISOString(),
    revokeReason: row.revoke_reason,
    jkt: row.dpop_jkt ?? null,
  };
}

/** The outcome of presenting a refresh token. */
export type RefreshUse =
  | { readonly ok: true; readonly grant: Grant; readonly refreshToken: string; readonly graceReuse: boolean }
  | { readonly ok: false; readonly reason: 'unknown' | 'expired' | 'revoked' | 'reuse' | 'wrong_client' };

/**
 * Refresh tokens: opaque keyturn secrets (digest at rest) that rotate on every use. A family
 * (grant) records its newest generation. Presenting:
 * - an active token of the newest generation: it becomes `used`, with its unused siblings, and a
 *   child of the next generation is issued;
 * - the immediately previous generation's token again, within the policy's grace seconds and
 *   use count: another child is issued (concurrent refreshes must not log a client out);
 * - anything older, or the previous one outside the grace: reuse — the whole family is revoked
 *   and a `detection.refresh_reuse` event recorded.
 */
export class RefreshTokenService {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #prefix: string;

  readonly #eventSalt: Uint8Array | undefined;
  readonly #usage: RefreshUsageCounter | undefined;

  /**
   * `options.eventSalt`: events name refresh tokens by their `hmac-sha256:` fingerprint under it;
   * `options.usage`: successful refreshes are counted there per family (in memory; written per interval).
   */
  constructor(store: Store, ctx: Context, prefix: string, options: { eventSalt?: Uint8Array; usage?: RefreshUsageCounter } = {}) {
    this.#store = store;
    this.#ctx = ctx;
    this.#prefix = prefix;
    this.#eventSalt = options.eventSalt;
    this.#usage = options.usage;
  }

  /** `{ [field]: fingerprint }` of a refresh token under the event salt (nothing without a salt). */
  fingerprint<F extends string>(field: F, token: string | undefined): { [K in F]?: string } {
    return (this.#eventSalt && token ? { [field]: credentialFingerprint(token, this.#eventSalt) } : {}) as { [K in F]?: string };
  }

  /** Starts a grant and returns its first refresh token. */
  async start(
    tx: Transaction,
    input: { clientId: string; principal: string; scopes: readonly string[]; audience: string; jkt?: string | undefined },
    policy: Policy,
  ): Promise<{ grant: Grant; refreshToken: string }> {
    const now = this.#ctx.now().getTime();
    const row: GrantRow = {
      id: newId('grt', this.#ctx),
      client_id: input.clientId,
      principal_id: input.principal,
      scopes: JSON.stringify(input.scopes),
      audience: input.audience,
      generation: 1,
      status: 'active',
      created_at: now,
      expires_at: now + policy.refreshFamilyTtl * 1000,
      revoked_at: null,
      revoke_reason: null,
      dpop_jkt: input.jkt ?? null,
    };
    await tx.run(
      `INSERT INTO oauth_grants (id, client_id, principal_id, scopes, audience, generation, status, created_at, expires_at, dpop_jkt)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [row.id, row.client_id, row.principal_id, row.scopes, row.audience, 1, 'active', now, row.expires_at, row.dpop_jkt ?? null],
    );
    const refreshToken = await this.#mint(tx, row, null, 1, policy, now);
    return { grant: toGrant(row), refreshToken };
  }

  async #mint(tx: Transaction, grant: GrantRow, parent: string | null, generation: number, policy: Policy, now: number): Promise<string> {
    const secret = generateSecret(this.#prefix, this.#ctx);
    const expires = Math.min(now + policy.refreshTokenTtl * 1000, grant.expires_at);
    await tx.run(
      `INSERT INTO oauth_refresh_tokens (id, grant_id, parent_id, generation, digest, status, created_at, expires_at, reuse_count)
       VALUES (?, ?, ?, ?, ?, 'active', ?, ?, 0)`,
      [newId('rtk', this.#ctx), grant.id, parent, generation, secretDigest(secret), now, expires],
    );
    return secret;
  }

  /**
   * Presents `token` for `clientId` under `policy`, inside `tx` (the caller's transaction also
   * issues the access token, so both or neither happen). On reuse the family is revoked in `tx`
   * and `{ ok: false }` returned: the caller must let `tx` commit (not throw inside it) so the
   * revocation and the detection event stand.
   */
  async use(tx: Transaction, token: string, clientId: string, policy: Policy, meta: RequestMeta): Promise<RefreshUse> {
    if (!tryParseSecret(token)) return { ok: false, reason: 'unknown' };
    const digest = secretDigest(token);
    const found = await tx.get<{ grant_id: string }>('SELECT grant_id FROM oauth_refresh_tokens WHERE digest = ?', [digest]);
    if (!found) return { ok: false, reason: 'unknown' };
    // Serialise uses of one family: the update takes the row lock (PostgreSQL); SQLite runs one writer.
    // Read the token again after the lock: a concurrent use may just have changed it.
    await tx.run('UPDATE oauth_grants SET generation = generation WHERE id = ?', [found.grant_id]);
    const row = (await tx.get<TokenRow>('SELECT * FROM oauth_refresh_tokens WHERE digest = ?', [digest]))!;
    const grant = await tx.get<GrantRow>('SELECT * FROM oauth_grants WHERE id = ?', [row.grant_id]);
    if (!grant) return { ok: false, reason: 'unknown' };
    if (grant.client_id !== clientId) return { ok: false, reason: 'wrong_client' };
    const now = this.#ctx.now().getTime();
    if (!isLive(REFRESH_FAMILY_LIFECYCLE, grant.status) || row.status === 'revoked') return { ok: false, reason: 'revoked' };
    if (grant.expires_at <= now) return { ok: false, reason: 'expired' };

    if (isLive(REFRESH_TOKEN_LIFECYCLE, row.status) && row.generation === grant.generation) {
      if (row.expires_at <= now) return { ok: false, reason: 'expired' };
      await tx.run("UPDATE oauth_refresh_tokens SET status = 'used', used_at = ? WHERE grant_id = ? AND generation = ? AND status = 'active'", [
        now,
        grant.id,
        row.generation,
      ]);
      await tx.run('UPDATE oauth_grants SET generation = ? WHERE id = ?', [row.generation + 1, grant.id]);
      const refreshToken = await this.#mint(tx, grant, row.id, row.generation + 1, policy, now);
      this.#usage?.note(grant.id, meta.sourceIp, 'refresh_token');
      return { ok: true, grant: toGrant({ ...grant, generation: row.generation + 1 }), refreshToken, graceReuse: false };
    }

    const previous = row.generation === grant.generation - 1;
    const withinGrace =
      previous &&
      row.used_at !== null &&
      now - row.used_at <= policy.refreshReuseGraceSeconds * 1000 &&
      row.reuse_count < policy.refreshReuseGraceCount;
    if (withinGrace) {
      await tx.run('UPDATE oauth_refresh_tokens SET reuse_count = reuse_count + 1 WHERE id = ?', [row.id]);
      const refreshToken = await this.#mint(tx, grant, row.id, grant.generation, policy, now);
      this.#usage?.note(grant.id, meta.sourceIp, 'refresh_token');
      return { ok: true, grant: toGrant(grant), refreshToken, graceReuse: true };
    }

    await this.#revokeOnReuse(tx, grant, row, meta, token);
    return { ok: false, reason: 'reuse' };
  }

  async #revokeOnReuse(tx: Transaction, grant: GrantRow, row: TokenRow, meta: RequestMeta, presented: string): Promise<void> {
    await this.revokeGrantIn(tx, grant.id, 'refresh token reuse');
    await appendEvent(
        tx,
        this.#ctx,
        {
          type: 'detection.refresh_reuse',
          target: grant.id,
          outcome: 'failure',
          reason: 'a refresh token of an older generation was presented',
          data: {
            client: grant.client_id,
            principal: grant.principal_id,
            presentedGeneration: row.generation,
            currentGeneration: grant.generation,
            ...this.fingerprint('presentedFingerprint', presented),
          },
        },
        meta,
      );
  }

  /** Revokes a grant and all its refresh tokens (access tokens: see AccessTokenService.revokeGrant). */
  async revokeGrantIn(tx: Transaction, grantId: string, reason: string): Promise<boolean> {
    const now = this.#ctx.now().getTime();
    const { changes } = await tx.run("UPDATE oauth_grants SET status = 'revoked', revoked_at = ?, revoke_reason = ? WHERE id = ? AND status = 'active'", [
      now,
      reason,
      grantId,
    ]);
    await tx.run("UPDATE oauth_refresh_tokens SET status = 'revoked' WHERE grant_id = ? AND status <> 'revoked'", [grantId]);
    await revokeGrantAccessTokens(tx, grantId);
    return changes > 0;
  }

  /**
   * Revokes the grant `grantId` with its refresh tokens and access tokens, in one transaction
   * with one `grant.revoked` event (none when it was already revoked), and returns the grant as it
   * then is; `ERR_NOT_FOUND` for an unknown id. `reason.stored` is kept on the grant,
   * `reason.audited` is the event's reason. What a client (RFC 7009) and an administrator call.
   *
   * @example
   * ```ts
   * await refreshTokens.revokeGrant(id, { stored: 'revoked by an administrator', audited: null }, meta);
   * ```
   */
  async revokeGrant(grantId: string, reason: { readonly stored: string; readonly audited: string | null }, meta: RequestMeta): Promise<Grant> {
    return this.#store.transaction(async (tx) => {
      const row = await tx.get<GrantRow>('SELECT * FROM oauth_grants WHERE id = ?', [grantId]);
      if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such grant');
      if (!(await this.revokeGrantIn(tx, grantId, reason.stored))) {
        return toGrant((await tx.get<GrantRow>('SELECT * FROM oauth_grants WHERE id = ?', [grantId]))!);
      }
      await appendEvent(tx, this.#ctx, { type: 'grant.revoked', target: grantId, outcome: 'success', reason: reason.audited, data: { client: row.client_id } }, meta);
      return toGrant({ ...row, status: 'revoked', revoked_at: this.#ctx.now().getTime(), revoke_reason: reason.stored });
    });
  }

  /** The grant a refresh token belongs to (introspection, revocation), if the token is ours. */
  async find(token: string): Promise<{ grant: Grant; token: { status: string; expiresAt: number; createdAt: number; generation: number } } | undefined> {
    if (!tryParseSecret(token)) return undefined;
    const row = await this.#store.get<TokenRow>('SELECT * FROM oauth_refresh_tokens WHERE digest = ?', [secretDigest(token)]);
    if (!row) return undefined;
    const grant = await this.#store.get<GrantRow>('SELECT * FROM oauth_grants WHERE id = ?', [row.grant_id]);
    if (!grant) return undefined;
    return { grant: toGrant(grant), token: { status: row.status, expiresAt: row.expires_at, createdAt: row.created_at, generation: row.generation } };
  }

  async getGrant(id: string): Promise<Grant> {
    const row = await this.#store.get<GrantRow>('SELECT * FROM oauth_grants WHERE id = ?', [id]);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such grant');
    return toGrant(row);
  }

  async listGrants(clientId: string, limit = 100): Promise<Grant[]> {
    const rows = await this.#store.all<GrantRow>('SELECT * FROM oauth_grants WHERE client_id = ? ORDER BY created_at DESC, id LIMIT ?', [
      clientId,
      Math.min(Math.max(limit, 1), 1000),
    ]);
    return rows.map(toGrant);
  }
}

/**
 * Deletes every grant of the client `clientId` and their refresh tokens, inside the caller's
 * transaction (deleting a client); its access tokens are the access token module's
 * (`revokeClientAccessTokens`).
 */
export async function deleteClientGrants(tx: Transaction, clientId: string): Promise<void> {
  await tx.run('DELETE FROM oauth_refresh_tokens WHERE grant_id IN (SELECT id FROM oauth_grants WHERE client_id = ?)', [clientId]);
  await tx.run('DELETE FROM oauth_grants WHERE client_id = ?', [clientId]);
}

/**
 * The refresh family a refresh token with the SHA-256 digest `digest` belongs to (a leak
 * finding's fingerprint): the leak response looks leaked `ktr_…` tokens up here. `works`: the
 * family is active and unexpired (whatever the generation of the token: presenting an old one
 * revokes the family anyway, but its leak shows where the newest one is kept).
 */
export interface RefreshFamilyHolder {
  readonly grantId: string;
  readonly clientId: string;
  readonly principal: string;
  readonly works: boolean;
}

/** See {@link RefreshFamilyHolder}; `undefined` when no refresh token has that digest. */
export async function refreshFamilyByDigest(db: Queryable, digest: string, now: number): Promise<RefreshFamilyHolder | undefined> {
  const token = await db.get<{ grant_id: string }>('SELECT grant_id FROM oauth_refresh_tokens WHERE digest = ?', [digest]);
  if (!token) return undefined;
  const grant = await db.get<GrantRow>('SELECT * FROM oauth_grants WHERE id = ?', [token.grant_id]);
  if (!grant) return undefined;
  return { grantId: grant.id, clientId: grant.client_id, principal: grant.principal_id, works: isLive(REFRESH_FAMILY_LIFECYCLE, grant.status) && grant.expires_at > now };
}

/** The refresh families (grants) of `principalId` that still work at `now` (offboarding revokes them), by id. */
export async function activeFamiliesOf(db: Queryable, principalId: string, now: number): Promise<string[]> {
  const rows = await db.all<{ id: string }>("SELECT id FROM oauth_grants WHERE principal_id = ? AND status = 'active' AND expires_at > ? ORDER BY id", [principalId, now]);
  return rows.map((r) => r.id);
}

/**
 * The refresh families of the clients `clientIds` that still work at `now`, whoever they were
 * issued for (offboarding revokes those of the clients a person owned), by id.
 */
export async function activeFamiliesOfClients(db: Queryable, clientIds: readonly string[], now: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < clientIds.length; i += 500) {
    const chunk = clientIds.slice(i, i + 500);
    if (chunk.length === 0) break;
    const rows = await db.all<{ id: string }>(
      `SELECT id FROM oauth_grants WHERE client_id IN (${chunk.map(() => '?').join(', ')}) AND status = 'active' AND expires_at > ? ORDER BY id`,
      [...chunk, now],
    );
    out.push(...rows.map((r) => r.id));
  }
  return out;
}

/**
 * Revokes the refresh family `grantId` with its refresh and access tokens inside the caller's
 * transaction, with one `grant.revoked` event carrying `reason`; `false` when it was not active.
 */
export async function revokeFamilyIn(tx: Transaction, ctx: Context, grantId: string, reason: string, meta: RequestMeta): Promise<boolean> {
  const grant = await tx.get<GrantRow>('SELECT * FROM oauth_grants WHERE id = ?', [grantId]);
  if (!grant) return false;
  const { changes } = await tx.run("UPDATE oauth_grants SET status = 'revoked', revoked_at = ?, revoke_reason = ? WHERE id = ? AND status = 'active'", [
    ctx.now().getTime(),
    reason,
    grantId,
  ]);
  if (changes !== 1) return false;
  await tx.run("UPDATE oauth_refresh_tokens SET status = 'revoked' WHERE grant_id = ? AND status <> 'revoked'", [grantId]);
  await revokeGrantAccessTokens(tx, grantId);
  await appendEvent(tx, ctx, { type: 'grant.revoked', target: grantId, outcome: 'success', reason, data: { client: grant.client_id } }, meta);
  return true;
}

/**
 * Revokes every active refresh family of the client `clientId` (one `grant.revoked` event each)
 * inside the caller's transaction: the leak response's answer to a leaked client secret in
 * `revoke` mode. Resolves to the number revoked.
 */
export async function revokeClientFamiliesIn(tx: Transaction, ctx: Context, clientId: string, reason: string, meta: RequestMeta): Promise<number> {
  const active = await tx.all<{ id: string }>("SELECT id FROM oauth_grants WHERE client_id = ? AND status = 'active' ORDER BY id", [clientId]);
  let revoked = 0;
  for (const { id } of active) if (await revokeFamilyIn(tx, ctx, id, reason, meta)) revoked++;
  return revoked;
}
