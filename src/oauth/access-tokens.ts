import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { appendEvent, type RequestMeta } from '../audit/index.js';
import type { Context } from '../core/context.js';
import { newId } from '../core/ids.js';
import { generateSecret, secretDigest, tryParseSecret } from '../core/secret.js';
import { signJwt, SIGNING_ALGS, type SigningAlg, type SigningKeyRing } from '../signing/index.js';
import type { Queryable, Store, Transaction } from '../store/port.js';

/**
 * RFC 8693 §4.1 actor: who acts on the subject's behalf (the exchanging client and its principal);
 * a token exchanged again nests the previous actor under `act`, the current actor outermost.
 */
export interface Actor {
  readonly sub: string;
  readonly client_id: string;
  readonly act?: Actor | undefined;
}

/** What an access token grants, however it is encoded. */
export interface AccessGrant {
  readonly clientId: string;
  readonly principal: string;
  readonly scopes: readonly string[];
  readonly audience: string;
  readonly grantId: string | null;
  /** RFC 8693 §4.1 actor, for exchanged tokens. */
  readonly act?: Actor | undefined;
  /** RFC 7800 confirmation (holder binding); set by the binding capability. */
  readonly cnf?: Record<string, string> | undefined;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresIn: number;
  readonly expiresAt: number;
}

/** An access token signed or generated but not yet recorded (see AccessTokenService.prepare). */
export interface PreparedAccessToken extends IssuedAccessToken {
  readonly issuedAt: number;
  readonly format: 'jwt' | 'opaque';
  readonly digest: string | null;
  readonly kid: string | null;
  readonly grant: Omit<AccessGrant, 'grantId'>;
}

/** An access token as introspection sees it (RFC 7662 members). */
export interface ActiveAccessToken extends AccessGrant {
  readonly jti: string;
  readonly format: 'jwt' | 'opaque';
  readonly issuedAt: number;
  readonly expiresAt: number;
  /**
   * Obtained by token exchange (RFC 8693): only such a token has a parent in the lineage, so
   * introspection walks the chain for these alone. Marked on the token's own row (whatever its
   * encoding), not inferred from `act`: a client exchanging a token of its own principal gets no `act`.
   */
  readonly exchanged: boolean;
}

interface Row {
  jti: string;
  client_id: string;
  principal_id: string;
  format: 'jwt' | 'opaque';
  scopes: string;
  audience: string;
  grant_id: string | null;
  status: 'active' | 'revoked';
  issued_at: number;
  expires_at: number;
  act: string | null;
  exchanged: number | boolean;
  cnf: string | null;
}

export interface AccessTokenServiceOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly ring: SigningKeyRing;
  readonly issuer: () => string;
  /** Prefix of opaque access tokens. */
  readonly opaquePrefix: string;
}

/**
 * Issues access tokens, JWT per RFC 9068 (`typ: at+jwt`, signed by the ring) or opaque
 * (keyturn-format secrets, digest stored), and recognises them again. Every token has a row
 * (jti, grant, expiry, status) so that revocation and grant revocation reach JWTs too when
 * checked through introspection.
 */
export class AccessTokenService {
  readonly #o: AccessTokenServiceOptions;

  constructor(options: AccessTokenServiceOptions) {
    this.#o = options;
  }

  #keySet: { readonly jwks: object; readonly set: ReturnType<typeof createLocalJWKSet> } | undefined;

  /**
   * The ring's JWKS as a jose key set, rebuilt only when the ring publishes a new JWKS object:
   * a jose local set caches imported keys, so building one per call re-imported the key on
   * every introspection.
   */
  async #verificationKeys(): Promise<ReturnType<typeof createLocalJWKSet>> {
    const jwks = await this.#o.ring.jwks();
    if (this.#keySet?.jwks !== jwks) this.#keySet = { jwks, set: createLocalJWKSet(jwks) };
    return this.#keySet.set;
  }

  /**
   * Signs (JWT) or generates (opaque) an access token without touching the store. The token is
   * not valid for introspection until {@link record}ed; the grant id is not part of the token.
   * Call it before opening the transaction that records the token, never inside one: signing is
   * asynchronous (the signing thread), and on SQLite a transaction holds the single writer for
   * as long as it is open. There is deliberately no method that does both.
   */
  async prepare(
    grant: Omit<AccessGrant, 'grantId'>,
    options: { ttl: number; format: 'jwt' | 'opaque'; alg: SigningAlg },
  ): Promise<PreparedAccessToken> {
    const now = this.#o.ctx.now().getTime();
    const iat = Math.floor(now / 1000);
    const exp = iat + options.ttl;
    const jti = newId('atk', this.#o.ctx);
    let token: string;
    let digest: string | null = null;
    let kid: string | null = null;
    if (options.format === 'jwt') {
      const key = await this.#o.ring.signingKey(options.alg);
      kid = key.kid;
      const claims: JWTPayload & Record<string, unknown> = {
        iss: this.#o.issuer(),
        sub: grant.principal,
        aud: grant.audience,
        exp,
        iat,
        jti,
        client_id: grant.clientId,
        scope: grant.scopes.join(' '),
      };
      if (grant.act) claims.act = grant.act;
      if (grant.cnf) claims.cnf = grant.cnf;
      token = await signJwt({ alg: key.alg, typ: 'at+jwt', kid: key.kid }, claims, key.privateKey);
    } else {
      token = generateSecret(this.#o.opaquePrefix, this.#o.ctx);
      digest = secretDigest(token);
    }
    return { token, jti, expiresIn: options.ttl, expiresAt: exp * 1000, issuedAt: iat * 1000, format: options.format, digest, kid, grant };
  }

  /**
   * Records a prepared access token (its row makes it introspectable and revocable) under `grantId`.
   * `exchanged`: the token exchange records its tokens so (with their parent in the lineage).
   */
  async record(tx: Transaction, prepared: PreparedAccessToken, grantId: string | null, options: { readonly exchanged?: boolean } = {}): Promise<IssuedAccessToken> {
    const { grant } = prepared;
    await tx.run(
      `INSERT INTO oauth_access_tokens (jti, client_id, principal_id, format, digest, scopes, audience, grant_id, status, issued_at, expires_at, kid, act, exchanged, cnf)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)`,
      [
        prepared.jti, grant.clientId, grant.principal, prepared.format, prepared.digest, JSON.stringify(grant.scopes), grant.audience, grantId,
        prepared.issuedAt, prepared.expiresAt, prepared.kid, grant.act ? JSON.stringify(grant.act) : null, options.exchanged === true ? 1 : 0, grant.cnf ? JSON.stringify(grant.cnf) : null,
      ],
    );
    return { token: prepared.token, jti: prepared.jti, expiresIn: prepared.expiresIn, expiresAt: prepared.expiresAt };
  }

  /**
   * Recognises an access token of ours: a JWT whose signature, issuer, type and expiry check out,
   * or an opaque token we issued; and whose row is not revoked. `undefined` for anything else.
   */
  async inspect(token: string): Promise<ActiveAccessToken | undefined> {
    if (token.length > 8192) return undefined;
    const now = this.#o.ctx.now();
    let jti: string | undefined;
    let cnf: Record<string, string> | undefined;
    if (tryParseSecret(token)) {
      const row = await this.#o.store.get<Row>("SELECT * FROM oauth_access_tokens WHERE digest = ? AND format = 'opaque'", [secretDigest(token)]);
      jti = row?.jti;
    } else if (token.split('.').length === 3) {
      try {
        const { payload } = await jwtVerify(token, await this.#verificationKeys(), {
          algorithms: [...SIGNING_ALGS],
          issuer: this.#o.issuer(),
          typ: 'at+jwt',
          currentDate: now,
          requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
        });
        jti = payload.jti;
        cnf = payload.cnf as Record<string, string> | undefined;
      } catch {
        return undefined;
      }
    }
    if (!jti) return undefined;
    const found = await this.active(jti);
    // The row's binding is authoritative (opaque tokens carry none in themselves).
    return found && (found.cnf === undefined && cnf ? { ...found, cnf } : found);
  }

  /**
   * The access token `jti` if its row is active and unexpired (whatever its encoding), without the
   * token itself: for walking an exchange chain up to its parents. `cnf` is the binding recorded with it.
   */
  async active(jti: string): Promise<ActiveAccessToken | undefined> {
    const row = await this.#o.store.get<Row>('SELECT * FROM oauth_access_tokens WHERE jti = ?', [jti]);
    if (!row || row.status !== 'active' || row.expires_at <= this.#o.ctx.now().getTime()) return undefined;
    return {
      jti: row.jti,
      format: row.format,
      clientId: row.client_id,
      principal: row.principal_id,
      scopes: JSON.parse(row.scopes) as string[],
      audience: row.audience,
      grantId: row.grant_id,
      act: row.act ? (JSON.parse(row.act) as Actor) : undefined,
      ...(row.cnf ? { cnf: JSON.parse(row.cnf) as Record<string, string> } : {}),
      issuedAt: row.issued_at,
      expiresAt: row.expires_at,
      exchanged: Number(row.exchanged) === 1,
    };
  }

  /** Revokes one access token by jti; `true` if it was active. */
  async revoke(tx: Transaction, jti: string): Promise<boolean> {
    const { changes } = await tx.run("UPDATE oauth_access_tokens SET status = 'revoked' WHERE jti = ? AND status = 'active'", [jti]);
    return changes > 0;
  }

  /** Revokes every access token issued under a grant (RFC 7009 §2.1: revoking the refresh token). */
  revokeGrant(tx: Transaction, grantId: string): Promise<number> {
    return revokeGrantAccessTokens(tx, grantId);
  }

  /** Deletes rows of tokens expired for more than a day (housekeeping). */
  async prune(): Promise<number> {
    return (await this.#o.store.run('DELETE FROM oauth_access_tokens WHERE expires_at < ?', [this.#o.ctx.now().getTime() - 86_400_000])).changes;
  }
}

/**
 * Revokes every active access token issued under the grant `grantId`, inside the caller's
 * transaction (revoking a grant revokes its access tokens); the number revoked.
 */
export async function revokeGrantAccessTokens(tx: Transaction, grantId: string): Promise<number> {
  return (await tx.run("UPDATE oauth_access_tokens SET status = 'revoked' WHERE grant_id = ? AND status = 'active'", [grantId])).changes;
}

/**
 * Revokes every active access token issued to the client `clientId`, inside the caller's
 * transaction (deleting a client); the number revoked.
 */
export async function revokeClientAccessTokens(tx: Transaction, clientId: string): Promise<number> {
  return (await tx.run("UPDATE oauth_access_tokens SET status = 'revoked' WHERE client_id = ? AND status = 'active'", [clientId])).changes;
}

/** The access tokens issued for `principalId` that still work at `now` (offboarding revokes them), by jti. */
export async function activeAccessTokensOf(db: Queryable, principalId: string, now: number): Promise<{ jti: string; grantId: string | null }[]> {
  const rows = await db.all<{ jti: string; grant_id: string | null }>(
    "SELECT jti, grant_id FROM oauth_access_tokens WHERE principal_id = ? AND status = 'active' AND expires_at > ? ORDER BY jti",
    [principalId, now],
  );
  return rows.map((r) => ({ jti: r.jti, grantId: r.grant_id }));
}

/** When the last token signed with `kid` expires (ms), for the signing key ring's retirement. */
export async function lastExpiryOfKid(db: Queryable, kid: string): Promise<number | null> {
  const row = await db.get<{ m: number | null }>('SELECT MAX(expires_at) AS m FROM oauth_access_tokens WHERE kid = ?', [kid]);
  return row?.m == null ? null : Number(row.m);
}

/**
 * The opaque access token with the SHA-256 digest `digest` (a leak finding's fingerprint): the
 * leak response looks leaked `kta_…` tokens up here. `works`: active and unexpired at `now`.
 */
export interface AccessTokenHolder {
  readonly jti: string;
  readonly clientId: string;
  readonly principal: string;
  readonly works: boolean;
}

/** See {@link AccessTokenHolder}; `undefined` when no opaque access token has that digest. */
export async function opaqueAccessTokenByDigest(db: Queryable, digest: string, now: number): Promise<AccessTokenHolder | undefined> {
  const row = await db.get<Row>("SELECT * FROM oauth_access_tokens WHERE digest = ? AND format = 'opaque'", [digest]);
  if (!row) return undefined;
  return { jti: row.jti, clientId: row.client_id, principal: row.principal_id, works: row.status === 'active' && Number(row.expires_at) > now };
}

/**
 * Revokes the access token `jti` inside the caller's transaction, with one `token.revoked` event
 * carrying `reason`; `false` when it was not active.
 */
export async function revokeAccessTokenIn(tx: Transaction, ctx: Context, jti: string, reason: string, meta: RequestMeta): Promise<boolean> {
  const row = await tx.get<Row>('SELECT * FROM oauth_access_tokens WHERE jti = ?', [jti]);
  if (!row) return false;
  const { changes } = await tx.run("UPDATE oauth_access_tokens SET status = 'revoked' WHERE jti = ? AND status = 'active'", [jti]);
  if (changes !== 1) return false;
  await appendEvent(tx, ctx, { type: 'token.revoked', target: jti, outcome: 'success', reason, data: { client: row.client_id, format: row.format } }, meta);
  return true;
}
