import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { API_KEY_LIFECYCLE, CLIENT_LIFECYCLE, isLive, PRINCIPAL_LIFECYCLE } from '../core/lifecycle.js';
import type { KeyService } from '../keys/index.js';
import { principalStatus } from '../principals/index.js';
import type { Store, Transaction } from '../store/port.js';
import type { AccessTokenService } from './access-tokens.js';
import type { ClientService } from './clients.js';

/** What an access token obtained by token exchange (RFC 8693) was exchanged for: its subject token. */
export interface TokenParent {
  readonly kind: 'api_key' | 'access_token';
  /** The API key's id or the access token's `jti`. */
  readonly id: string;
}

/**
 * How many exchanges may follow one another from an API key or a directly issued token: the
 * chain is walked at every introspection, and each hop nests one more `act` claim.
 */
export const MAX_EXCHANGE_DEPTH = 4;

/** An access token as the chain walk sees it. */
export interface ChainLink {
  readonly jti: string;
  readonly clientId: string;
  readonly principal: string;
  /** Obtained by token exchange (marked on its row): only then has it a parent to look up. */
  readonly exchanged: boolean;
}

/** The answer of {@link TokenLineage.check}: whether the whole chain stands, and how deep the token is. */
export type Standing = { readonly stands: true; readonly depth: number } | { readonly stands: false };

interface Row {
  jti: string;
  parent_kind: 'api_key' | 'access_token';
  parent_id: string;
  depth: number;
  expires_at: number;
}

export interface TokenLineageOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly clients: Pick<ClientService, 'find'>;
  readonly keys: Pick<KeyService, 'get'>;
  readonly accessTokens: Pick<AccessTokenService, 'active'>;
}

/**
 * The lineage of exchanged access tokens: each one's parent (the subject token it was exchanged
 * for), so that a token never outlives the standing of its source. {@link check} walks the chain
 * up to its root and answers whether every link still stands: each access token's row active and
 * unexpired, its client enabled, its client's principal and its own principal active; the root API
 * key live (not suspended, revoked, retired or expired) and its owner active. Revoking, suspending
 * or disabling anything on the chain therefore reaches every descendant at once, and lifting a
 * suspension brings them back, as it does the key itself. Only exchanged tokens have a row here
 * (and `exchanged` set on their access token row): the token endpoint's `client_credentials` path
 * writes nothing to this table, and introspecting its tokens reads nothing from it.
 */
export class TokenLineage {
  readonly #o: TokenLineageOptions;

  constructor(options: TokenLineageOptions) {
    this.#o = options;
  }

  /** Records, inside the exchange's transaction, that the access token `jti` was exchanged for `parent`. */
  async record(tx: Transaction, jti: string, parent: TokenParent, depth: number, expiresAt: number): Promise<void> {
    await tx.run('INSERT INTO oauth_token_lineage (jti, parent_kind, parent_id, depth, expires_at) VALUES (?, ?, ?, ?, ?)', [
      jti,
      parent.kind,
      parent.id,
      depth,
      expiresAt,
    ]);
  }

  /** The parent of the access token `jti` and its depth (1: exchanged for a key or a directly issued token); `undefined` when it was not exchanged. */
  async parentOf(jti: string): Promise<{ parent: TokenParent; depth: number } | undefined> {
    const row = await this.#o.store.get<Row>('SELECT * FROM oauth_token_lineage WHERE jti = ?', [jti]);
    return row && { parent: { kind: row.parent_kind, id: row.parent_id }, depth: Number(row.depth) };
  }

  /**
   * Whether the access token `at` (already found active by its own row) stands with everything it
   * descends from, and its depth in the exchange chain (0: not exchanged). The lineage is read only
   * for tokens marked `exchanged` on their row (one read per exchanged link); a token issued
   * directly costs no lineage read at all.
   *
   * @example
   * ```ts
   * const at = await accessTokens.inspect(token);
   * if (!at || !(await lineage.check(at)).stands) return { active: false };
   * ```
   */
  async check(at: ChainLink): Promise<Standing> {
    let link: ChainLink = at;
    let depth: number | undefined;
    for (let hop = 0; hop <= MAX_EXCHANGE_DEPTH; hop++) {
      if (!(await this.authorized(link.clientId, link.principal))) return { stands: false };
      // A token not obtained by exchange is a root: no lineage read (most introspections end here).
      if (!link.exchanged) return { stands: true, depth: depth ?? 0 };
      const up = await this.parentOf(link.jti);
      // Marked exchanged but its parent is not on record: fail closed.
      if (!up) return { stands: false };
      depth ??= up.depth;
      if (up.parent.kind === 'api_key') return (await this.#keyStands(up.parent.id)) ? { stands: true, depth } : { stands: false };
      const parent = await this.#o.accessTokens.active(up.parent.id);
      if (!parent) return { stands: false };
      link = parent;
    }
    // Longer than any chain the exchange lets grow: fail closed.
    return { stands: false };
  }

  /**
   * Whether tokens of the client `clientId` for `principalId` are still authorized: the client
   * exists and is enabled, its principal is active, and so is `principalId` when it is another.
   */
  async authorized(clientId: string, principalId: string): Promise<boolean> {
    const client = await this.#o.clients.find(clientId);
    if (!client || !isLive(CLIENT_LIFECYCLE, client.status) || !isLive(PRINCIPAL_LIFECYCLE, client.principalStatus)) return false;
    if (principalId === client.principal) return true;
    const status = await principalStatus(this.#o.store, principalId);
    return status !== undefined && isLive(PRINCIPAL_LIFECYCLE, status);
  }

  async #keyStands(keyId: string): Promise<boolean> {
    let key;
    try {
      key = await this.#o.keys.get(keyId);
    } catch (err) {
      if (err instanceof KeyturnError && err.code === 'ERR_NOT_FOUND') return false;
      throw err;
    }
    // `status` is `expired` for a live key past its expiry.
    if (!isLive(API_KEY_LIFECYCLE, key.status)) return false;
    const owner = await principalStatus(this.#o.store, key.principal);
    return owner !== undefined && isLive(PRINCIPAL_LIFECYCLE, owner);
  }

  /** Deletes the lineage of tokens expired for more than a day, as the access tokens' own rows are (housekeeping). */
  async prune(): Promise<number> {
    return (await this.#o.store.run('DELETE FROM oauth_token_lineage WHERE expires_at < ?', [this.#o.ctx.now().getTime() - 86_400_000])).changes;
  }
}
