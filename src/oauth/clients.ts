import { z } from 'zod';
import { credentialFingerprint } from '../core/fingerprint.js';
import { appendEvent, appendEvents, SYSTEM, type EventData, type EventInput, type RequestMeta } from '../audit/index.js';
import { ChangeCache, followChanges } from '../core/change-cache.js';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { CLIENT_LIFECYCLE, CLIENT_SECRET_LIFECYCLE, isLive, isLiveAt, PRINCIPAL_LIFECYCLE, transition } from '../core/lifecycle.js';
import { Pacer, type PacerClock } from '../core/pacing.js';
import { presetCatalog, type Policy, type PolicyCatalog, type PolicyOverrides } from '../core/policy.js';
import { digestsEqual, generateSecret, secretDigest, tryParseSecret } from '../core/secret.js';
import { scopeSchema } from '../core/scopes.js';
import { validate } from '../core/validate.js';
import { PRINCIPALS_CHANNEL, principalStatus, recordExposure, type PrincipalService } from '../principals/index.js';
import { registeredThumbprints, tlsClientAuthSchema } from '../binding/index.js';
import { SIGNING_ALGS, type SigningAlg } from '../signing/index.js';
import type { Queryable, Store, Transaction } from '../store/port.js';
import { revokeClientAccessTokens } from './access-tokens.js';
import { deleteClientGrants } from './refresh-tokens.js';

export const GRANT_TYPES = ['client_credentials', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
/** RFC 8705 §2: methods where the TLS client certificate authenticates the client (no secret). */
export const TLS_AUTH_METHODS = ['tls_client_auth', 'self_signed_tls_client_auth'] as const;
/** Whether a client authenticating with `method` holds a client secret. */
export function hasSecret(method: AuthMethod): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}

/** Public JWKs a client registers for `private_key_jwt`: no private parts, no symmetric keys. */
const publicJwk = z
  .looseObject({ kty: z.enum(['EC', 'OKP', 'RSA']), kid: z.string().max(256).optional(), alg: z.string().max(16).optional() })
  .refine((k) => !('d' in k) && !('p' in k) && !('k' in k), 'must be a public key (no private or symmetric parts)');
/** Sizes only: the binding capability checks the content (`src/binding/mtls.ts`). */
const tlsClientAuthInput = z.record(z.string().max(16), z.unknown());
export const jwksSchema = z.strictObject({ keys: z.array(publicJwk).min(1).max(10) });

const policyOverridesSchema = z
  .strictObject({
    accessTokenTtl: z.number().int().min(30).max(31_536_000).optional(),
    accessTokenFormat: z.enum(['jwt', 'opaque']).optional(),
    refreshTokens: z.boolean().optional(),
    clientCredentialsRefresh: z.boolean().optional(),
    refreshTokenTtl: z.number().int().min(60).max(63_072_000).optional(),
    refreshFamilyTtl: z.number().int().min(60).max(63_072_000).optional(),
    refreshReuseGraceSeconds: z.number().int().min(0).max(300).optional(),
    refreshReuseGraceCount: z.number().int().min(0).max(10).optional(),
    exchangeTokenTtl: z.number().int().min(30).max(86_400).optional(),
    secretRotationGrace: z.number().int().min(0).max(2_592_000).optional(),
  });

/** An audience: an absolute URI (RFC 8707 resource) or a plain identifier (RFC 8693 audience). */
export const audienceSchema = z.string().min(1).max(512).regex(/^[\x21-\x7E]+$/, 'no spaces or control characters');

export const createClientSchema = z
  .strictObject({
    name: z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]*$/, 'letters, digits and . _ @ + - only'),
    owner: z.string().min(1).max(128).optional(),
    scopes: z.array(scopeSchema).max(64).default([]),
    grantTypes: z.array(z.enum(GRANT_TYPES)).min(1).max(3).default(['client_credentials']),
    audiences: z.array(audienceSchema).max(32).optional(),
    resourceServerFor: z.array(audienceSchema).max(32).default([]),
    policy: z.string().max(64).default('default'),
    policyOverrides: policyOverridesSchema.default({}),
    authMethod: z.enum(AUTH_METHODS).optional(),
    jwks: jwksSchema.optional(),
    accessTokenAlg: z.enum(SIGNING_ALGS).default('ES256'),
    /** RFC 8705 §2.1.2 / §2.2: the certificate a `tls_client_auth` / `self_signed_tls_client_auth` client presents. */
    tlsClientAuth: tlsClientAuthInput.optional(),
    /** RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`: default on for the TLS methods. */
    certificateBoundAccessTokens: z.boolean().optional(),
  })
  .refine(
    (c) =>
      c.authMethod === 'self_signed_tls_client_auth' ||
      (c.authMethod === 'private_key_jwt') === (c.jwks !== undefined) ||
      (c.authMethod === undefined && c.jwks !== undefined),
    {
      message: 'private_key_jwt needs jwks, and jwks is only for private_key_jwt (or certificates of self_signed_tls_client_auth)',
      path: ['jwks'],
    },
  )
  .refine((c) => (c.tlsClientAuth !== undefined) === (c.authMethod === 'tls_client_auth' || (c.authMethod === 'self_signed_tls_client_auth' && c.jwks === undefined)), {
    message: 'tls_client_auth needs tlsClientAuth (one of subjectDn, sanDns, sanUri, sanIp, sanEmail); self_signed_tls_client_auth needs tlsClientAuth.thumbprints or jwks with x5c; other methods take neither',
    path: ['tlsClientAuth'],
  });

export const updateClientSchema = z.strictObject({
  scopes: z.array(scopeSchema).max(64).optional(),
  grantTypes: z.array(z.enum(GRANT_TYPES)).min(1).max(3).optional(),
  audiences: z.array(audienceSchema).max(32).optional(),
  resourceServerFor: z.array(audienceSchema).max(32).optional(),
  policy: z.string().max(64).optional(),
  // No default here: a PATCH without `policyOverrides` keeps the stored ones (zod's `.default({}).optional()` replaced them with `{}`).
  policyOverrides: policyOverridesSchema.optional(),
  jwks: jwksSchema.optional(),
});

/** A registered client as the admin API shows it (never a secret). */
export interface ClientView {
  readonly clientId: string;
  readonly name: string;
  readonly principal: string;
  readonly status: 'active' | 'disabled';
  readonly authMethod: AuthMethod;
  readonly secretLast4: string | null;
  readonly scopes: readonly string[];
  readonly grantTypes: readonly GrantType[];
  readonly audiences: readonly string[];
  /**
   * Audiences this client is the resource server for: it may introspect access tokens for them
   * (RFC 7662 §4). Any client may introspect the tokens issued to itself; no one else's.
   */
  readonly resourceServerFor: readonly string[];
  readonly policy: Policy;
  /** The version of the stored policy its secret was issued under (its overrides on top). */
  readonly policyVersion: number | null;
  readonly accessTokenAlg: SigningAlg;
  readonly jwks: { keys: Record<string, unknown>[] } | null;
  /** RFC 8705 registration of the TLS methods (validated by the binding capability), else `null`. */
  readonly tlsClientAuth: Record<string, unknown> | null;
  /** Access tokens are bound to the client certificate of the connection they were requested on (RFC 8705 §3). */
  readonly certificateBoundAccessTokens: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What the token endpoint needs about an authenticated client. */
export interface Client extends ClientView {
  readonly principalStatus: string;
}

interface Row {
  id: string;
  principal_id: string;
  name: string;
  status: 'active' | 'disabled';
  auth_method: AuthMethod;
  secret_digest: string | null;
  secret_last4: string | null;
  previous_secret_digest: string | null;
  previous_secret_expires_at: number | null;
  jwks: string | null;
  scopes: string;
  grant_types: string;
  audiences: string;
  resource_server_for: string;
  policy: string;
  policy_overrides: string;
  policy_version?: number | null;
  access_token_alg: SigningAlg;
  tls_client_auth?: string | null;
  certificate_bound_tokens?: number | string | boolean | null;
  created_at: number;
  updated_at: number;
  // Scheduled rotation (0150); absent on rows read before that migration ran.
  secret_issued_at?: number | null;
  secret_rotate_at?: number | null;
  secret_deadline_at?: number | null;
  secret_deadline?: 'hard' | 'soft';
  previous_secret_deadline?: 'hard' | 'soft';
  secret_pickup?: string | null;
  // Offboarding (0142): a secret rotated because a person who saw it left, sealed until an administrator collects it.
  admin_secret_pickup?: string | null;
  secret_flagged_at?: number | null;
  previous_secret_flagged_at?: number | null;
  // Owner notices (0216): the secret_rotate_at / secret_deadline_at its owner was told of.
  secret_due_noticed_at?: number | string | null;
  secret_expiry_noticed_at?: number | string | null;
}

/** Seals a scheduled successor's secret until its client collects it (the master key's AES-256-GCM in the runtime). */
export interface ClientSecretSealer {
  seal(plaintext: string, associated: string): string;
  open(sealed: string, associated: string): string;
}

/**
 * A client event told to the outside (webhooks to the client's owner), in the transaction of the
 * change, after its audit event: the scheduler's notices `client.secret_rotation_due` (the secret's
 * scheduled rotation comes within the notice window) and `client.secret_expiring` (its maximum age
 * does, or has come). Never carries a secret.
 */
export interface ClientLifecycleEvent {
  readonly type: 'client.secret_rotation_due' | 'client.secret_expiring';
  readonly client: { readonly id: string; readonly name: string; readonly principal: string; readonly policy: string };
  readonly data: Record<string, unknown>;
}

/** Hears {@link ClientLifecycleEvent}s in the change's transaction (a throw rolls it back); resolves to the deliveries written. */
export type ClientEventHook = (tx: Transaction, event: ClientLifecycleEvent) => Promise<number>;

/** Who rotated a client's secret (the event's reason). */
export type SecretRotatedBy = 'admin' | 'self' | 'schedule';

/** When the current secret of `row` stops working (ms; `Infinity`: not by a deadline). */
function currentSecretEnd(row: Row): number {
  return row.secret_deadline === 'hard' && row.secret_deadline_at != null ? Number(row.secret_deadline_at) : Infinity;
}

/**
 * Whether the previous secret of `row` still works at `now`: until its grace ends (hard), or past
 * it (soft: flagged and reported, until the next rotation replaces it).
 */
function previousSecretWorks(row: Row, now: number): boolean {
  if (row.previous_secret_digest === null) return false;
  if (row.previous_secret_deadline === 'soft') return true;
  return isLiveAt(CLIENT_SECRET_LIFECYCLE, 'rotating', row.previous_secret_expires_at ?? 0, now);
}

/** Which of `row`'s working secrets has the digest `digest`, compared in constant time. */
function matchingSecret(row: Row, digest: string, now: number): 'current' | 'previous' | undefined {
  const current = row.secret_digest !== null && now < currentSecretEnd(row) && digestsEqual(digest, row.secret_digest);
  const previous = previousSecretWorks(row, now) && digestsEqual(digest, row.previous_secret_digest!);
  return current ? 'current' : previous ? 'previous' : undefined;
}

export const CLIENTS_CHANNEL = 'clients';

export interface ClientServiceOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly principals: PrincipalService;
  readonly secretPrefix: string;
  /** Audience of tokens for clients registered without any: the issuer by default. */
  readonly defaultAudience: () => string;
  /** Stored lifetime policies (default: the presets alone, each at version 1). */
  readonly policies?: PolicyCatalog;
  /** Open leak findings of a client's secret guard enabling it (set by the composition root from the leak response). */
  readonly leakGuard?: ClientLeakGuard;
  /** Seals secrets the scheduler issues until their client collects them, and those an offboarding rotates until an administrator does; without it, neither happens. */
  readonly sealer?: ClientSecretSealer;
  /** Tells owners of the scheduler's notices (webhooks); without it, {@link ClientService.noticeDue} tells nothing. */
  readonly onEvent?: ClientEventHook;
  /**
   * The deployment's event salt: events that issue or hand out a secret carry its
   * `hmac-sha256:` fingerprint (`secretFingerprint`), so a leaked secret is matched to its events.
   */
  readonly eventSalt?: Uint8Array;
  /** The most of this process's time scheduled secret rotation may take while secrets are due (default 0.2; see `KeyServiceOptions.rotationShare`). */
  readonly rotationShare?: number;
  /** Where the pacing reads time and busy time and how it waits (default: this process's); tests pass their own. */
  readonly pacerClock?: PacerClock;
}

/** A secret rotation checked and worked out, not yet written (see `ClientService.#planSecret`). */
interface PlannedSecret {
  readonly row: Row;
  readonly secret: string;
  readonly digest: string;
  readonly pickup: string | null;
  /** The current secret is a scheduled one nobody collected: the previous secret (and its flag) stays. */
  readonly undelivered: boolean;
  readonly previousDigest: string | null;
  readonly previousUntil: number | null;
  readonly previousDeadline: 'hard' | 'soft';
  readonly version: number;
  readonly schedule: [number | null, number | null, 'hard' | 'soft'];
}

/**
 * What the leak response tells client operations, without OAuth reading its tables (dependency
 * inversion, as for API keys): the findings of a client's secret nobody has acknowledged.
 */
export interface ClientLeakGuard {
  /** Ids of the open (unacknowledged) leak findings of the client's secret, read in `tx`. */
  openFindings(tx: Transaction, clientId: string): Promise<readonly string[]>;
  /** Marks them acknowledged by `meta.actor`, with one `leak.acknowledged` event, in `tx`. */
  acknowledge(tx: Transaction, clientId: string, findings: readonly string[], meta: RequestMeta): Promise<void>;
}

/** Client secrets rotated per transaction by the scheduler (as keys: few commits, the writer held briefly). */
const SECRET_ROTATION_CHUNK = 100;

/** OAuth 2.0 clients: registration, secrets (digest at rest, rotation with overlap), status. */
export class ClientService {
  readonly #o: ClientServiceOptions;
  readonly #policies: PolicyCatalog;
  readonly #pacer: Pacer;

  /** Authenticated clients by id: invalidated by the change feed, re-read at least every 5 minutes. */
  readonly #cache = new ChangeCache<{ readonly row: Row & { principal_status: string }; readonly client: Client }>({ maxEntries: 10_000 });
  readonly #unsubscribe: () => void;

  constructor(options: ClientServiceOptions) {
    this.#o = options;
    this.#policies = options.policies ?? presetCatalog();
    this.#pacer = new Pacer(options.rotationShare ?? 0.2, options.pacerClock);
    this.#unsubscribe = followChanges((channel, listener) => options.store.subscribe(channel, listener), this.#cache, {
      all: [CLIENTS_CHANNEL, PRINCIPALS_CHANNEL],
    });
  }

  /** Stops following the change feed. */
  close(): void {
    this.#unsubscribe();
  }

  /** Registers a client; the secret (secret methods) is in the answer and nowhere else. */
  async create(input: unknown, meta: RequestMeta): Promise<{ client: ClientView; secret: string | null }> {
    const data = validate(createClientSchema, input);
    const { policy, version: policyVersion } = await this.#current(data.policy, data.policyOverrides);
    const authMethod: AuthMethod = data.authMethod ?? (data.jwks ? 'private_key_jwt' : 'client_secret_basic');
    if (data.tlsClientAuth !== undefined) validate(tlsClientAuthSchema, data.tlsClientAuth);
    if (authMethod === 'self_signed_tls_client_auth' && data.jwks !== undefined && registeredThumbprints(null, data.jwks).length === 0) {
      throw new KeyturnError('ERR_VALIDATION', 'jwks: self_signed_tls_client_auth needs keys with x5c certificates');
    }
    return this.#o.store.transaction(async (tx) => {
      const owner = data.owner
        ? await this.#o.principals.get(data.owner, tx)
        : await this.#o.principals.createIn(tx, { kind: 'service', name: data.name }, meta);
      if (!isLive(PRINCIPAL_LIFECYCLE, owner.status)) throw new KeyturnError('ERR_PRINCIPAL_INACTIVE', `owner is ${owner.status}`);
      const now = this.#o.ctx.now().getTime();
      const secret = hasSecret(authMethod) ? generateSecret(this.#o.secretPrefix, this.#o.ctx) : null;
      const isTls = (TLS_AUTH_METHODS as readonly string[]).includes(authMethod);
      const certificateBound = data.certificateBoundAccessTokens ?? isTls;
      const row: Row = {
        id: newId('ktc', this.#o.ctx),
        principal_id: owner.id,
        name: data.name,
        status: 'active',
        auth_method: authMethod,
        secret_digest: secret ? secretDigest(secret) : null,
        secret_last4: secret ? secret.slice(-4) : null,
        previous_secret_digest: null,
        previous_secret_expires_at: null,
        jwks: data.jwks ? JSON.stringify(data.jwks) : null,
        scopes: JSON.stringify([...new Set(data.scopes)]),
        grant_types: JSON.stringify([...new Set(data.grantTypes)]),
        audiences: JSON.stringify(data.audiences ?? []),
        resource_server_for: JSON.stringify([...new Set(data.resourceServerFor)]),
        policy: policy.name,
        policy_overrides: JSON.stringify(data.policyOverrides),
        policy_version: policyVersion,
        access_token_alg: data.accessTokenAlg,
        tls_client_auth: data.tlsClientAuth ? JSON.stringify(data.tlsClientAuth) : null,
        certificate_bound_tokens: certificateBound ? 1 : 0,
        created_at: now,
        updated_at: now,
      };
      await tx.run(
        `INSERT INTO oauth_clients (id, principal_id, name, status, auth_method, secret_digest, secret_last4, previous_secret_digest,
           previous_secret_expires_at, jwks, scopes, grant_types, audiences, resource_server_for, policy, policy_overrides, policy_version, access_token_alg,
           tls_client_auth, certificate_bound_tokens, created_at, updated_at,
           secret_issued_at, secret_rotate_at, secret_deadline_at, secret_deadline)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          row.id, row.principal_id, row.name, row.status, row.auth_method, row.secret_digest, row.secret_last4, null, null, row.jwks,
          row.scopes, row.grant_types, row.audiences, row.resource_server_for, row.policy, row.policy_overrides, policyVersion, row.access_token_alg,
          row.tls_client_auth ?? null, certificateBound ? 1 : 0, now, now,
          ...(secret ? [now, ...scheduleOf(policy, now)] : [null, null, null, 'hard']),
        ],
      );
      if (secret) await recordExposure(tx, this.#o.ctx, meta, { type: 'client_secret', id: row.id }, 'created');
      await appendEvent(
        tx,
        this.#o.ctx,
        { type: 'client.created', target: row.id, outcome: 'success', data: { principal: owner.id, name: row.name, authMethod, policy: policy.name, ...this.#fingerprint(secret) } },
        meta,
      );
      return { client: this.#view(row), secret };
    });
  }

  async get(clientId: string, db: Queryable = this.#o.store): Promise<ClientView> {
    const row = await db.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such client');
    return this.#view(row);
  }

  async list(query: { limit?: number; after?: string } = {}): Promise<ClientView[]> {
    const rows = await this.#o.store.all<Row>('SELECT * FROM oauth_clients WHERE id > ? ORDER BY id LIMIT ?', [
      query.after ?? '',
      Math.min(Math.max(query.limit ?? 100, 1), 1000),
    ]);
    return rows.map((r) => this.#view(r));
  }

  /** Changes what a client may do; takes effect at its next token request or refresh. */
  async update(clientId: string, input: unknown, meta: RequestMeta): Promise<ClientView> {
    const data = validate(updateClientSchema, input);
    return this.#mutate(clientId, meta, 'client.updated', async (tx, row) => {
      const policyName = data.policy ?? row.policy;
      const overrides = data.policyOverrides ?? (JSON.parse(row.policy_overrides) as object);
      // Naming a policy (again) moves the client to its current version; otherwise it keeps its own.
      const policyVersion = data.policy !== undefined ? (await this.#current(policyName, overrides)).version : (row.policy_version ?? null);
      if (data.jwks && row.auth_method !== 'private_key_jwt') throw new KeyturnError('ERR_VALIDATION', 'jwks: only for private_key_jwt clients');
      // Naming a policy re-plans the current secret's schedule and deadline from its issue under that policy's current version.
      if (data.policy !== undefined && row.secret_digest !== null) {
        const schedule = scheduleOf((await this.#current(policyName, overrides as PolicyOverrides)).policy, Number(row.secret_issued_at ?? row.created_at));
        await tx.run('UPDATE oauth_clients SET secret_rotate_at = ?, secret_deadline_at = ?, secret_deadline = ?, secret_flagged_at = NULL WHERE id = ?', [...schedule, clientId]);
      }
      await tx.run(
        'UPDATE oauth_clients SET scopes = ?, grant_types = ?, audiences = ?, resource_server_for = ?, policy = ?, policy_overrides = ?, policy_version = ?, jwks = ?, updated_at = ? WHERE id = ?',
        [
          data.scopes ? JSON.stringify([...new Set(data.scopes)]) : row.scopes,
          data.grantTypes ? JSON.stringify([...new Set(data.grantTypes)]) : row.grant_types,
          data.audiences ? JSON.stringify(data.audiences) : row.audiences,
          data.resourceServerFor ? JSON.stringify([...new Set(data.resourceServerFor)]) : row.resource_server_for,
          policyName,
          JSON.stringify(overrides),
          policyVersion,
          data.jwks ? JSON.stringify(data.jwks) : row.jwks,
          this.#o.ctx.now().getTime(),
          clientId,
        ],
      );
      return { event: { fields: Object.keys(data) } };
    });
  }

  /**
   * Enables or disables a client. A client whose secret has an open leak finding (the leak
   * response disabled it) is enabled only with `ackLeak: true`, which marks the findings
   * acknowledged by `meta.actor` with one `leak.acknowledged` event; without it
   * `ERR_LEAK_UNACKNOWLEDGED` and nothing changes. A later sighting reopens them.
   */
  async setStatus(clientId: string, status: 'active' | 'disabled', meta: RequestMeta, options: { readonly ackLeak?: boolean } = {}): Promise<ClientView> {
    return this.#mutate(clientId, meta, status === 'active' ? 'client.enabled' : 'client.disabled', async (tx, row) => {
      const step = transition(CLIENT_LIFECYCLE, row.status, status === 'active' ? 'enable' : 'disable');
      if (status === 'active' && step.changed) {
        const open = (await this.#o.leakGuard?.openFindings(tx, clientId)) ?? [];
        if (open.length > 0 && options.ackLeak !== true) {
          throw new KeyturnError(
            'ERR_LEAK_UNACKNOWLEDGED',
            `client ${clientId} has ${open.length} open leak finding${open.length === 1 ? '' : 's'} of its secret (${open.join(', ')}); enabling it needs an explicit acknowledgement (ackLeak: true, or --ack-leak); rotate the secret first if it is still the leaked one`,
            { details: { findings: open } },
          );
        }
        if (open.length > 0) await this.#o.leakGuard!.acknowledge(tx, clientId, open, meta);
      }
      await tx.run('UPDATE oauth_clients SET status = ?, updated_at = ? WHERE id = ?', [step.to, this.#o.ctx.now().getTime(), clientId]);
      return { event: {} };
    });
  }

  /** Deletes a client, its grants and refresh tokens; its access tokens stop introspecting as active. */
  async delete(clientId: string, meta: RequestMeta): Promise<void> {
    await this.#o.store.transaction(async (tx) => {
      const row = await tx.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
      if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such client');
      await revokeClientAccessTokens(tx, clientId);
      await deleteClientGrants(tx, clientId);
      await tx.run('DELETE FROM oauth_clients WHERE id = ?', [clientId]);
      await appendEvent(tx, this.#o.ctx, { type: 'client.deleted', target: clientId, outcome: 'success', data: { name: row.name } }, meta);
      tx.notify(CLIENTS_CHANNEL, clientId);
    });
  }

  /**
   * Issues a new secret. The previous one keeps working (`rotating`) for `graceSeconds` (default:
   * the policy's `secretRotationGrace`, which is also the most it allows: a longer one is
   * `ERR_VALIDATION` and changes nothing), then stops under a hard deadline — authentication
   * checks the grace end itself, on every node — or keeps working, flagged and reported, under a
   * soft one. The new secret is issued under the policy's current version, which also sets when
   * it is due for scheduled rotation and when it reaches its maximum age.
   */
  async rotateSecret(clientId: string, meta: RequestMeta, graceSeconds?: number): Promise<{ client: ClientView; secret: string }> {
    return this.#o.store.transaction(async (tx) => {
      const row = await tx.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
      if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such client');
      const secret = await this.#rotateIn(tx, row, 'admin', meta, graceSeconds);
      const updated = await tx.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
      return { client: this.#view(updated!), secret };
    });
  }

  /**
   * `POST /v1/clients/self/rotate-secret`: the client authenticates with its secret and gets the
   * new one once. With its current secret, the secret is rotated now (the policy's grace). With
   * the previous secret after a scheduled rotation, it collects the sealed new secret, once
   * (`client.secret_picked_up`). Any other call — a retry after a lost answer — is
   * `ERR_CREDENTIAL_STATE` (the new secret was shown once). A secret that does not authenticate
   * the client, a disabled client or an inactive owner is `ERR_INVALID_CLIENT`. Refusals change nothing.
   */
  async selfRotateSecret(clientId: string, presented: string, meta: RequestMeta): Promise<{ client: ClientView; secret: string }> {
    if (clientId.length > 128 || presented.length > 512) throw new KeyturnError('ERR_INVALID_CLIENT', 'client authentication failed');
    const parsed = tryParseSecret(presented);
    const digest = secretDigest(parsed ? parsed.text : presented);
    return this.#o.store.transaction(async (tx) => {
      const row = await tx.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
      const now = this.#o.ctx.now().getTime();
      const which = row ? matchingSecret(row, digest, now) : undefined;
      const owner = row && which ? await principalStatus(tx, row.principal_id) : undefined;
      if (!row || !which || !isLive(CLIENT_LIFECYCLE, row.status) || !owner || !isLive(PRINCIPAL_LIFECYCLE, owner)) {
        throw new KeyturnError('ERR_INVALID_CLIENT', 'client authentication failed');
      }
      const selfMeta: RequestMeta = { ...meta, actor: row.principal_id, actorKind: 'service' };
      let secret: string;
      if (which === 'current' && row.secret_pickup == null) {
        secret = await this.#rotateIn(tx, row, 'self', selfMeta);
      } else if (which === 'previous' && row.secret_pickup != null && this.#o.sealer) {
        // Conditional: of two concurrent pick-ups exactly one gets the secret.
        const taken = await tx.run('UPDATE oauth_clients SET secret_pickup = NULL WHERE id = ? AND secret_pickup = ?', [clientId, row.secret_pickup]);
        if (taken.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the client changed concurrently; try again');
        secret = this.#o.sealer.open(row.secret_pickup, `${clientId}:${row.secret_digest}`);
        await recordExposure(tx, this.#o.ctx, selfMeta, { type: 'client_secret', id: clientId }, 'created');
        await appendEvent(tx, this.#o.ctx, { type: 'client.secret_picked_up', target: clientId, outcome: 'success', data: { ...this.#fingerprint(secret) } }, selfMeta);
        tx.notify(CLIENTS_CHANNEL, clientId);
      } else {
        throw new KeyturnError('ERR_CREDENTIAL_STATE', `the secret was already rotated; the new one (…${row.secret_last4 ?? ''}) was shown once`, {
          details: { state: 'rotating', action: 'rotate' },
        });
      }
      const updated = await tx.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
      return { client: this.#view(updated!), secret };
    });
  }

  /** Rotates `row`'s secret inside `tx` (see {@link rotateSecret}); returns the new secret. */
  async #rotateIn(tx: Transaction, row: Row, by: SecretRotatedBy, meta: RequestMeta, graceSeconds?: number): Promise<string> {
    const now = this.#o.ctx.now().getTime();
    const plan = await this.#planSecret(row, by, now, graceSeconds);
    // Conditional on the secret read: of two concurrent rotations (two nodes, a retry) exactly one wins.
    const { changes } = await tx.run(
      `UPDATE oauth_clients SET secret_digest = ?, secret_last4 = ?, previous_secret_digest = ?, previous_secret_expires_at = ?, previous_secret_deadline = ?,
         previous_secret_flagged_at = ${plan.undelivered ? 'previous_secret_flagged_at' : 'NULL'}, policy_version = ?, secret_issued_at = ?, secret_rotate_at = ?, secret_deadline_at = ?, secret_deadline = ?,
         secret_pickup = ?, secret_flagged_at = NULL, updated_at = ?
       WHERE id = ? AND ${row.secret_digest === null ? 'secret_digest IS NULL' : 'secret_digest = ?'}`,
      [
        plan.digest, plan.secret.slice(-4), plan.previousDigest, plan.previousUntil, plan.previousDeadline,
        plan.version, now, ...plan.schedule, plan.pickup, now, row.id, ...(row.secret_digest === null ? [] : [row.secret_digest]),
      ],
    );
    if (changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the client changed concurrently; try again');
    if (by !== 'schedule') await recordExposure(tx, this.#o.ctx, meta, { type: 'client_secret', id: row.id }, 'created');
    await appendEvent(tx, this.#o.ctx, this.#rotatedEvent(plan, by), meta);
    tx.notify(CLIENTS_CHANNEL, row.id);
    return plan.secret;
  }

  /**
   * Checks that `row`'s secret may be rotated now and works out its new columns, writing nothing
   * (a refusal throws before any write, so a chunk's other rotations stay intact).
   */
  async #planSecret(row: Row, by: SecretRotatedBy, now: number, graceSeconds?: number): Promise<PlannedSecret> {
    if (row.auth_method === 'private_key_jwt') throw new KeyturnError('ERR_CREDENTIAL_STATE', 'a private_key_jwt client has no secret; update its jwks');
    if (!hasSecret(row.auth_method)) throw new KeyturnError('ERR_CREDENTIAL_STATE', `a ${row.auth_method} client has no secret: its certificate authenticates it`);
    const policy = this.#resolve(row);
    const grace = graceSeconds ?? policy.secretRotationGrace;
    if (!Number.isInteger(grace) || grace < 0 || grace > policy.secretRotationGrace) {
      throw new KeyturnError('ERR_VALIDATION', `grace: at most ${policy.secretRotationGrace} seconds under policy ${policy.name}`);
    }
    if (by === 'schedule' && !this.#o.sealer) throw new KeyturnError('ERR_CONFIG', 'scheduled rotation needs a sealer for new secrets');
    const next = await this.#current(row.policy, JSON.parse(row.policy_overrides) as PolicyOverrides);
    const secret = generateSecret(this.#o.secretPrefix, this.#o.ctx);
    const digest = secretDigest(secret);
    // A scheduled secret is shown to nobody: sealed, bound to the client and the secret's digest, until the client collects it.
    const pickup = by === 'schedule' ? this.#o.sealer!.seal(secret, `${row.id}:${digest}`) : null;
    // A scheduled secret nobody collected yet was never in use: the secret the client knows stays
    // the previous one, with its own grace, instead of being pushed out by a secret nobody has.
    const undelivered = row.secret_pickup != null;
    const keep = grace > 0 && row.secret_digest !== null;
    return {
      row,
      secret,
      digest,
      pickup,
      undelivered,
      previousDigest: undelivered ? row.previous_secret_digest : keep ? row.secret_digest : null,
      previousUntil: undelivered ? (row.previous_secret_expires_at == null ? null : Number(row.previous_secret_expires_at)) : keep ? now + grace * 1000 : null,
      previousDeadline: undelivered ? (row.previous_secret_deadline ?? 'hard') : (row.secret_deadline ?? 'hard'),
      version: next.version,
      schedule: scheduleOf(next.policy, now),
    };
  }

  /** The `client.secret_rotated` event of `plan`. */
  #rotatedEvent(plan: PlannedSecret, by: SecretRotatedBy): EventInput {
    return {
      type: 'client.secret_rotated',
      target: plan.row.id,
      outcome: 'success',
      reason: by,
      data: { previousValidUntil: plan.previousUntil === null ? null : new Date(plan.previousUntil).toISOString(), ...this.#fingerprint(plan.secret) },
    };
  }

  /**
   * Scheduled rotation: rotates up to `limit` active clients whose secret is due, oldest first, in
   * transactions of {@link SECRET_ROTATION_CHUNK} clients (the new secrets sealed until their
   * clients collect them), paced like keys (`rotationShare`, see {@link Pacer}). A chunk is a
   * constant number of statements whatever its size, as for keys: its rows read at once, one
   * conditional multi-row update claiming every rotation, one multi-row insert of the events.
   * Each secret is rotated once even when several nodes run this at once: the update is
   * conditional on each client's secret as read (`… AND secret_digest = <read> RETURNING id`), so
   * a client another node rotated meanwhile is not returned and gets no second secret.
   */
  async rotateDue(limit: number): Promise<{ rotated: number; skipped: number; more: boolean }> {
    if (!this.#o.sealer) return { rotated: 0, skipped: 0, more: false };
    const now = this.#o.ctx.now().getTime();
    const due = await this.#o.store.all<{ id: string }>(
      "SELECT id FROM oauth_clients WHERE secret_rotate_at IS NOT NULL AND secret_rotate_at <= ? AND status = 'active' ORDER BY secret_rotate_at, id LIMIT ?",
      [now, limit],
    );
    // Counted per attempt: a transaction the store runs again must not count twice.
    const ids = due.map((d) => d.id);
    const done = await this.#pacer.runChunks(ids, SECRET_ROTATION_CHUNK, (chunk) => this.#o.store.transaction((tx) => this.#rotateChunk(tx, chunk, now)));
    return { ...done, more: due.length === limit };
  }

  /** One transaction of scheduled secret rotations (see {@link rotateDue}). */
  async #rotateChunk(tx: Transaction, ids: readonly string[], now: number): Promise<{ rotated: number; skipped: number }> {
    const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
    const rows = new Map((await tx.all<Row>(`SELECT * FROM oauth_clients WHERE id IN (${marks(ids.length)})`, ids)).map((row) => [row.id, row]));
    let skipped = 0;
    const unscheduled: string[] = [];
    const planned: PlannedSecret[] = [];
    for (const id of ids) {
      const row = rows.get(id);
      // Gone, disabled, rotated meanwhile (another node) or rescheduled: not this run's.
      if (!row || row.status !== 'active' || row.secret_rotate_at == null || Number(row.secret_rotate_at) > now) skipped++;
      // No working secret to rotate away from (revoked by the leak response, or past a hard deadline): off the schedule.
      else if (row.secret_digest === null || now >= currentSecretEnd(row)) unscheduled.push(id);
      else {
        try {
          planned.push(await this.#planSecret(row, 'schedule', now));
        } catch (err) {
          if (!(err instanceof KeyturnError) || !['ERR_CONFLICT', 'ERR_CREDENTIAL_STATE', 'ERR_VALIDATION'].includes(err.code)) throw err;
          skipped++;
        }
      }
    }
    if (unscheduled.length > 0) {
      await tx.run(`UPDATE oauth_clients SET secret_rotate_at = NULL WHERE secret_rotate_at IS NOT NULL AND secret_rotate_at <= ? AND id IN (${marks(unscheduled.length)})`, [now, ...unscheduled]);
    }
    if (planned.length === 0) return { rotated: 0, skipped };
    // One conditional update claims the chunk, each row's new columns from a VALUES list (column1…
    // column13 on both databases; text on PostgreSQL, hence the casts). A client whose secret is no
    // longer the one read (another node rotated it: on PostgreSQL the update waits for that node's
    // commit, then re-checks) is not returned, and gets no second secret.
    const claimed = await tx.all<{ id: string }>(
      `UPDATE oauth_clients SET secret_digest = v.column2, secret_last4 = v.column3, previous_secret_digest = v.column4,
         previous_secret_expires_at = CAST(v.column5 AS BIGINT), previous_secret_deadline = v.column6,
         previous_secret_flagged_at = CASE WHEN CAST(v.column7 AS INTEGER) = 1 THEN oauth_clients.previous_secret_flagged_at ELSE NULL END,
         policy_version = CAST(v.column8 AS INTEGER), secret_issued_at = ?, secret_rotate_at = CAST(v.column9 AS BIGINT),
         secret_deadline_at = CAST(v.column10 AS BIGINT), secret_deadline = v.column11, secret_pickup = v.column12, secret_flagged_at = NULL, updated_at = ?
       FROM (VALUES ${planned.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}) AS v
       WHERE oauth_clients.id = v.column1 AND oauth_clients.secret_digest = v.column13 AND oauth_clients.status = 'active'
       RETURNING oauth_clients.id`,
      [
        now,
        now,
        ...planned.flatMap((p) => [
          p.row.id, p.digest, p.secret.slice(-4), p.previousDigest, p.previousUntil, p.previousDeadline,
          p.undelivered ? 1 : 0, p.version, ...p.schedule.slice(0, 2), p.schedule[2], p.pickup, p.row.secret_digest,
        ]),
      ],
    );
    const won = new Set(claimed.map((c) => c.id));
    const winners = planned.filter((p) => won.has(p.row.id));
    await appendEvents(
      tx,
      this.#o.ctx,
      winners.map((p) => this.#rotatedEvent(p, 'schedule')),
      SYSTEM,
    );
    for (const p of winners) tx.notify(CLIENTS_CHANNEL, p.row.id);
    return { rotated: winners.length, skipped: skipped + planned.length - winners.length };
  }

  /**
   * Ends what is past its time, up to `limit` of each: a previous secret at the end of its grace
   * is dropped under a hard deadline (`client.secret_retired`; a scheduled new secret nobody
   * collected loses its sealed copy) and reported once under a soft one; a current secret past
   * its maximum age is reported once (`client.secret_deadline_missed`) — under a hard deadline it
   * stopped working then, by itself.
   */
  async settleDeadlines(limit: number): Promise<{ retired: number; flagged: number; more: boolean }> {
    const now = this.#o.ctx.now().getTime();
    let retired = 0;
    let flagged = 0;
    const ending = await this.#o.store.all<Row>(
      `SELECT * FROM oauth_clients WHERE previous_secret_digest IS NOT NULL AND previous_secret_expires_at <= ?
         AND (previous_secret_deadline = 'hard' OR previous_secret_flagged_at IS NULL) ORDER BY previous_secret_expires_at, id LIMIT ?`,
      [now, limit],
    );
    for (const row of ending) {
      await this.#o.store.transaction(async (tx) => {
        if (row.previous_secret_deadline !== 'soft') {
          const { changes } = await tx.run(
            'UPDATE oauth_clients SET previous_secret_digest = NULL, previous_secret_expires_at = NULL, secret_pickup = NULL WHERE id = ? AND previous_secret_digest = ?',
            [row.id, row.previous_secret_digest],
          );
          if (changes !== 1) return;
          await appendEvent(tx, this.#o.ctx, { type: 'client.secret_retired', target: row.id, outcome: 'success', data: { uncollected: row.secret_pickup != null } }, SYSTEM);
          tx.notify(CLIENTS_CHANNEL, row.id);
          retired++;
        } else {
          const { changes } = await tx.run('UPDATE oauth_clients SET previous_secret_flagged_at = ? WHERE id = ? AND previous_secret_digest = ? AND previous_secret_flagged_at IS NULL', [
            now,
            row.id,
            row.previous_secret_digest,
          ]);
          if (changes === 1 && (await this.#flag(tx, row, 'grace', Number(row.previous_secret_expires_at), 'soft'))) flagged++;
        }
      });
    }
    const overdue = await this.#o.store.all<Row>(
      'SELECT * FROM oauth_clients WHERE secret_deadline_at IS NOT NULL AND secret_flagged_at IS NULL AND secret_deadline_at <= ? AND secret_digest IS NOT NULL ORDER BY secret_deadline_at, id LIMIT ?',
      [now, limit],
    );
    for (const row of overdue) {
      await this.#o.store.transaction(async (tx) => {
        const { changes } = await tx.run('UPDATE oauth_clients SET secret_flagged_at = ? WHERE id = ? AND secret_digest = ? AND secret_flagged_at IS NULL', [now, row.id, row.secret_digest]);
        if (changes === 1 && (await this.#flag(tx, row, 'max_age', Number(row.secret_deadline_at), row.secret_deadline ?? 'hard'))) flagged++;
      });
    }
    return { retired, flagged, more: ending.length === limit || overdue.length === limit };
  }

  /**
   * Tells owners, once per client per deadline, what is coming within `windowMs`, as for API keys:
   * `client.secret_rotation_due` for an active client whose secret's scheduled rotation comes by
   * then (still to come: one due now is rotated by this very run), `client.secret_expiring` for an
   * active client whose current secret reaches its maximum age (the policy's hard or soft deadline)
   * by then, or has, unless the secret is due for rotation now (its successor has its own). Each
   * notice is claimed by a conditional update storing the date told of, so with several nodes (or a
   * retry) it is sent once; a new secret's new dates are told again. Up to `limit` of each per call.
   */
  async noticeDue(limit: number, windowMs: number): Promise<{ noticed: number; more: boolean }> {
    const onEvent = this.#o.onEvent;
    if (!onEvent) return { noticed: 0, more: false };
    const now = this.#o.ctx.now().getTime();
    const horizon = now + windowMs;
    let noticed = 0;
    const due = await this.#o.store.all<Row>(
      `SELECT * FROM oauth_clients WHERE status = 'active' AND secret_digest IS NOT NULL AND secret_rotate_at IS NOT NULL AND secret_rotate_at > ? AND secret_rotate_at <= ?
         AND (secret_due_noticed_at IS NULL OR secret_due_noticed_at <> secret_rotate_at)
       ORDER BY secret_rotate_at, id LIMIT ?`,
      [now, horizon, limit],
    );
    for (const row of due) {
      await this.#o.store.transaction(async (tx) => {
        const claimed = await tx.run(
          `UPDATE oauth_clients SET secret_due_noticed_at = secret_rotate_at
           WHERE id = ? AND status = 'active' AND secret_rotate_at = ? AND (secret_due_noticed_at IS NULL OR secret_due_noticed_at <> secret_rotate_at)`,
          [row.id, Number(row.secret_rotate_at)],
        );
        if (claimed.changes !== 1) return;
        const dueAt = new Date(Number(row.secret_rotate_at)).toISOString();
        const endpoints = await onEvent(tx, { type: 'client.secret_rotation_due', client: noticeClient(row), data: { dueAt, policy: row.policy } });
        await appendEvent(tx, this.#o.ctx, { type: 'client.secret_rotation_due', target: row.id, outcome: 'success', data: { dueAt, endpoints } }, SYSTEM);
        noticed++;
      });
    }
    const ending = await this.#o.store.all<Row>(
      `SELECT * FROM oauth_clients WHERE status = 'active' AND secret_digest IS NOT NULL AND secret_deadline_at IS NOT NULL AND secret_deadline_at <= ?
         AND (secret_rotate_at IS NULL OR secret_rotate_at > ?) AND (secret_expiry_noticed_at IS NULL OR secret_expiry_noticed_at <> secret_deadline_at)
       ORDER BY secret_deadline_at, id LIMIT ?`,
      [horizon, now, limit],
    );
    for (const row of ending) {
      await this.#o.store.transaction(async (tx) => {
        const claimed = await tx.run(
          `UPDATE oauth_clients SET secret_expiry_noticed_at = secret_deadline_at
           WHERE id = ? AND status = 'active' AND secret_deadline_at = ? AND (secret_expiry_noticed_at IS NULL OR secret_expiry_noticed_at <> secret_deadline_at)`,
          [row.id, Number(row.secret_deadline_at)],
        );
        if (claimed.changes !== 1) return;
        const at = Number(row.secret_deadline_at);
        const enforced = row.secret_deadline ?? 'hard';
        const endpoints = await onEvent(tx, {
          type: 'client.secret_expiring',
          client: noticeClient(row),
          data: { at: new Date(at).toISOString(), enforced, passed: at <= now, policy: row.policy },
        });
        await appendEvent(
          tx,
          this.#o.ctx,
          { type: 'client.secret_expiring', target: row.id, outcome: 'success', reason: 'max_age', data: { at: new Date(at).toISOString(), enforced, endpoints } },
          SYSTEM,
        );
        noticed++;
      });
    }
    return { noticed, more: due.length === limit || ending.length === limit };
  }

  async #flag(tx: Transaction, row: Row, reason: 'grace' | 'max_age', deadline: number, enforced: 'hard' | 'soft'): Promise<boolean> {
    await appendEvent(
      tx,
      this.#o.ctx,
      {
        type: 'client.secret_deadline_missed',
        target: row.id,
        outcome: 'success',
        reason,
        data: { deadline: new Date(deadline).toISOString(), enforced, policy: row.policy, policyVersion: Number(row.policy_version ?? 0) },
      },
      SYSTEM,
    );
    return true;
  }

  /**
   * Offboarding: rotates the secret of `clientId` inside `tx` because a person who saw it left. The
   * previous secret keeps working for the policy's grace; the new one is sealed until an
   * administrator collects it ({@link revealSecret}), never shown to the caller. A client with no
   * secret (private_key_jwt, or one the leak response cleared) is `ERR_CREDENTIAL_STATE`.
   */
  async rotateSecretSealedIn(tx: Transaction, clientId: string, meta: RequestMeta): Promise<{ previousValidUntil: string | null }> {
    if (!this.#o.sealer) throw new KeyturnError('ERR_CONFIG', 'offboarding needs a sealer for rotated client secrets');
    const row = await tx.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such client');
    if (row.auth_method === 'private_key_jwt' || row.secret_digest === null) throw new KeyturnError('ERR_CREDENTIAL_STATE', 'the client has no secret to rotate');
    const grace = this.#resolve(row).secretRotationGrace;
    const next = await this.#current(row.policy, JSON.parse(row.policy_overrides) as PolicyOverrides);
    const now = this.#o.ctx.now().getTime();
    const secret = generateSecret(this.#o.secretPrefix, this.#o.ctx);
    // Conditional on the digest read: a concurrent rotation wins, this one changes nothing.
    // The new secret restarts the schedule (as any rotation does); a scheduled secret the client had
    // not collected yet is dropped: the person who left may know the secret it would be collected with.
    const { changes } = await tx.run(
      `UPDATE oauth_clients SET secret_digest = ?, secret_last4 = ?, previous_secret_digest = ?, previous_secret_expires_at = ?, previous_secret_deadline = ?, previous_secret_flagged_at = NULL,
         policy_version = ?, secret_issued_at = ?, secret_rotate_at = ?, secret_deadline_at = ?, secret_deadline = ?, secret_pickup = NULL, secret_flagged_at = NULL,
         admin_secret_pickup = ?, updated_at = ?
       WHERE id = ? AND secret_digest = ?`,
      [
        secretDigest(secret), secret.slice(-4), grace > 0 ? row.secret_digest : null, grace > 0 ? now + grace * 1000 : null, row.secret_deadline ?? 'hard',
        next.version, now, ...scheduleOf(next.policy, now), this.#o.sealer.seal(secret, clientId), now, clientId, row.secret_digest,
      ],
    );
    if (changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the client changed concurrently; try again');
    const previousValidUntil = grace > 0 ? new Date(now + grace * 1000).toISOString() : null;
    await appendEvent(tx, this.#o.ctx, { type: 'client.secret_rotated', target: clientId, outcome: 'success', reason: 'offboarding', data: { previousValidUntil, ...this.#fingerprint(secret) } }, meta);
    tx.notify(CLIENTS_CHANNEL, clientId);
    return { previousValidUntil };
  }

  /**
   * An administrator collects a client secret sealed by an offboarding, once
   * (`client.secret_revealed`; the administrator is recorded as exposed to it). Nothing sealed is
   * `ERR_CREDENTIAL_STATE`; nothing changes.
   */
  async revealSecret(clientId: string, meta: RequestMeta): Promise<{ client: ClientView; secret: string }> {
    return this.#o.store.transaction(async (tx) => {
      const row = await tx.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
      if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such client');
      if (!row.admin_secret_pickup || !this.#o.sealer) throw new KeyturnError('ERR_CREDENTIAL_STATE', 'the client has no sealed secret waiting (collected already, or it was shown when it was issued)');
      const taken = await tx.run('UPDATE oauth_clients SET admin_secret_pickup = NULL WHERE id = ? AND admin_secret_pickup = ?', [clientId, row.admin_secret_pickup]);
      if (taken.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the secret was collected concurrently');
      const secret = this.#o.sealer.open(row.admin_secret_pickup, clientId);
      // A sealed secret replaced since (rotated again) is not the client's any more.
      if (!digestsEqual(secretDigest(secret), row.secret_digest ?? '')) throw new KeyturnError('ERR_CREDENTIAL_STATE', 'the sealed secret was replaced since; rotate the secret');
      await recordExposure(tx, this.#o.ctx, meta, { type: 'client_secret', id: clientId }, 'revealed');
      await appendEvent(tx, this.#o.ctx, { type: 'client.secret_revealed', target: clientId, outcome: 'success', data: { ...this.#fingerprint(secret) } }, meta);
      return { client: this.#view(row), secret };
    });
  }

  /** Offboarding: of the clients `ids`, those with a secret that could be rotated now (not private_key_jwt, a current secret, active). */
  async rotatableSecrets(db: Queryable, ids: readonly string[]): Promise<{ id: string; principal: string }[]> {
    const out: { id: string; principal: string }[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const rows = await db.all<Row>(
        `SELECT * FROM oauth_clients WHERE auth_method <> 'private_key_jwt' AND secret_digest IS NOT NULL AND status = 'active' AND id IN (${chunk.map(() => '?').join(', ')})`,
        [...chunk],
      );
      for (const r of rows) out.push({ id: r.id, principal: r.principal_id });
    }
    return out;
  }

  /** `{ secretFingerprint }` of `secret` under the event salt (nothing without a salt or a secret). */
  #fingerprint(secret: string | null | undefined): { secretFingerprint?: string } {
    return this.#o.eventSalt && secret ? { secretFingerprint: credentialFingerprint(secret, this.#o.eventSalt) } : {};
  }

  async #mutate<T extends 'client.updated' | 'client.enabled' | 'client.disabled' | 'client.secret_rotated'>(
    clientId: string,
    meta: RequestMeta,
    type: T,
    change: (tx: Transaction, row: Row) => Promise<{ event: EventData<T> }>,
  ): Promise<ClientView> {
    return this.#o.store.transaction(async (tx) => {
      const row = await tx.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
      if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such client');
      const { event } = await change(tx, row);
      // `event` was checked against T's declaration by the caller; T is a type parameter here.
      await appendEvent(tx, this.#o.ctx, { type, target: clientId, outcome: 'success', data: event } as EventInput, meta);
      tx.notify(CLIENTS_CHANNEL, clientId);
      const updated = await tx.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
      return this.#view(updated!);
    });
  }

  /**
   * Finds the client with `clientId` whose current (or still-overlapping previous) secret is
   * `secret`. Compares digests in constant time; `undefined` for any mismatch.
   */
  async checkSecret(clientId: string, secret: string): Promise<Client | undefined> {
    const entry = await this.#cached(clientId);
    const row = entry?.row;
    if (!entry || !row || !row.secret_digest) return undefined;
    const parsed = tryParseSecret(secret);
    const digest = secretDigest(parsed ? parsed.text : secret);
    // The deadlines are compared here, from the cached row: a grace end or a hard maximum age
    // bites on every node at once, with no notification needed, and across restarts.
    return matchingSecret(row, digest, this.#o.ctx.now().getTime()) ? entry.client : undefined;
  }

  /** The client with its principal's status, for authentication by assertion and introspection. */
  async find(clientId: string): Promise<Client | undefined> {
    return (await this.#cached(clientId))?.client;
  }

  async #cached(clientId: string): Promise<{ row: Row & { principal_status: string }; client: Client } | undefined> {
    if (clientId.length > 128) return undefined;
    const now = this.#o.ctx.now().getTime();
    const hit = this.#cache.get(clientId, now);
    if (hit) return hit;
    const generation = this.#cache.generation;
    const client = await this.#o.store.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
    const principalStatusNow = client && (await principalStatus(this.#o.store, client.principal_id));
    if (!client || !principalStatusNow) return undefined;
    const row = { ...client, principal_status: principalStatusNow };
    const entry = { row, client: { ...this.#view(row), principalStatus: row.principal_status } };
    // An invalidation that arrived during the read makes the row suspect: use it, do not keep it.
    this.#cache.set(clientId, entry, now + 300_000, now, generation);
    return entry;
  }

  /** The current version of `name` with `overrides` on top; `ERR_VALIDATION` for an unknown name. */
  async #current(name: string, overrides: PolicyOverrides): Promise<{ policy: Policy; version: number }> {
    await this.#policies.ensure?.(name);
    const { policy, version } = this.#policies.current(name);
    return { policy: { ...policy, ...overrides, name }, version };
  }

  /** The policy a client's secret was issued under (its version; the current one for clients older than stored policies). */
  #resolve(row: Row): Policy {
    const overrides = JSON.parse(row.policy_overrides) as PolicyOverrides;
    const stored = row.policy_version == null ? undefined : this.#policies.at(row.policy, Number(row.policy_version));
    const base = stored ?? this.#policies.current(row.policy);
    return { ...base.policy, ...overrides, name: row.policy };
  }

  /** How many clients with a secret each version of `policy` governs (for `policies show`). */
  async policyCounts(policy: string): Promise<{ kind: 'client_secret'; version: number; count: number }[]> {
    const rows = await this.#o.store.all<{ version: number | string; n: number | string }>(
      "SELECT policy_version AS version, COUNT(*) AS n FROM oauth_clients WHERE policy = ? AND policy_version IS NOT NULL AND auth_method IN ('client_secret_basic', 'client_secret_post') GROUP BY policy_version",
      [policy],
    );
    return rows.map((r) => ({ kind: 'client_secret' as const, version: Number(r.version), count: Number(r.n) }));
  }

  #view(row: Row): ClientView {
    const audiences = JSON.parse(row.audiences) as string[];
    return {
      clientId: row.id,
      name: row.name,
      principal: row.principal_id,
      status: row.status,
      authMethod: row.auth_method,
      secretLast4: row.secret_last4,
      scopes: JSON.parse(row.scopes) as string[],
      grantTypes: JSON.parse(row.grant_types) as GrantType[],
      audiences: audiences.length > 0 ? audiences : [this.#o.defaultAudience()],
      resourceServerFor: JSON.parse(row.resource_server_for) as string[],
      // A stored name that is no policy (any more) is an error here too, never another policy.
      policy: this.#resolve(row),
      policyVersion: row.policy_version ?? null,
      accessTokenAlg: row.access_token_alg,
      jwks: row.jwks ? (JSON.parse(row.jwks) as { keys: Record<string, unknown>[] }) : null,
      tlsClientAuth: row.tls_client_auth ? (JSON.parse(row.tls_client_auth) as Record<string, unknown>) : null,
      certificateBoundAccessTokens: Number(row.certificate_bound_tokens ?? 0) === 1 || row.certificate_bound_tokens === true,
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
    };
  }
}

/** What a notice says about its client: never any part of a secret. */
function noticeClient(row: Row): ClientLifecycleEvent['client'] {
  return { id: row.id, name: row.name, principal: row.principal_id, policy: row.policy };
}

/** The schedule columns of a secret issued at `now` under `policy`: due, maximum age, deadline kind. */
function scheduleOf(policy: Policy, now: number): [number | null, number | null, 'hard' | 'soft'] {
  return [
    policy.secretRotationInterval === null ? null : now + policy.secretRotationInterval * 1000,
    policy.secretMaxAge === null ? null : now + policy.secretMaxAge * 1000,
    policy.deadline,
  ];
}

/** Channels that, when they fire, mean a client's authorization may have changed. */
export const AUTHORIZATION_CHANNELS = [CLIENTS_CHANNEL, PRINCIPALS_CHANNEL] as const;

/**
 * The client one of whose secrets has the SHA-256 digest `digest` (a leak finding's fingerprint):
 * the leak response looks leaked `ktcs_…` secrets up here. `which` says whether it is the current
 * secret or the previous one kept during a rotation's grace; `works` whether it authenticates the
 * client now (a live client, and a previous secret only until its grace ends).
 */
export interface ClientSecretHolder {
  readonly clientId: string;
  readonly name: string;
  readonly principal: string;
  readonly status: 'active' | 'disabled';
  readonly which: 'current' | 'previous';
  readonly works: boolean;
}

/** See {@link ClientSecretHolder}; `undefined` when no client has a secret with that digest. */
export async function clientBySecretDigest(db: Queryable, digest: string, now: number): Promise<ClientSecretHolder | undefined> {
  // Both digests are indexed (secret_digest is unique; previous_secret_digest by 0061).
  const row = await db.get<Row>('SELECT * FROM oauth_clients WHERE secret_digest = ? OR previous_secret_digest = ?', [digest, digest]);
  if (!row) return undefined;
  const which = row.secret_digest === digest ? 'current' : 'previous';
  const secretLive = which === 'current' ? now < currentSecretEnd(row) : previousSecretWorks(row, now);
  return { clientId: row.id, name: row.name, principal: row.principal_id, status: row.status, which, works: secretLive && isLive(CLIENT_LIFECYCLE, row.status) };
}

/**
 * Disables the client `clientId` inside the caller's transaction, with one `client.disabled`
 * event carrying `reason` (the leak response quarantines a client whose secret leaked). `false`
 * when it was already disabled: nothing is written.
 */
export async function disableClientIn(tx: Transaction, ctx: Context, clientId: string, reason: string, meta: RequestMeta): Promise<boolean> {
  const row = await tx.get<Row>('SELECT * FROM oauth_clients WHERE id = ?', [clientId]);
  if (!row || !transition(CLIENT_LIFECYCLE, row.status, 'disable').changed) return false;
  // Conditional on the status read: a concurrent change wins, this one does nothing.
  const { changes } = await tx.run("UPDATE oauth_clients SET status = 'disabled', updated_at = ? WHERE id = ? AND status = ?", [ctx.now().getTime(), clientId, row.status]);
  if (changes !== 1) return false;
  await appendEvent(tx, ctx, { type: 'client.disabled', target: clientId, outcome: 'success', reason, data: {} }, meta);
  tx.notify(CLIENTS_CHANNEL, clientId);
  return true;
}

/**
 * Revokes one secret of the client `clientId` for good, inside the caller's transaction, with one
 * `client.secret_revoked` event: the current secret is cleared (the client authenticates with no
 * secret until an administrator rotates it), or the previous one's grace ends now. `false` when
 * that secret was already gone.
 */
export async function revokeClientSecretIn(
  tx: Transaction,
  ctx: Context,
  clientId: string,
  which: 'current' | 'previous',
  reason: string,
  meta: RequestMeta,
): Promise<boolean> {
  const now = ctx.now().getTime();
  const { changes } =
    which === 'current'
      ? await tx.run('UPDATE oauth_clients SET secret_digest = NULL, secret_last4 = NULL, updated_at = ? WHERE id = ? AND secret_digest IS NOT NULL', [now, clientId])
      : await tx.run(
          'UPDATE oauth_clients SET previous_secret_digest = NULL, previous_secret_expires_at = NULL, updated_at = ? WHERE id = ? AND previous_secret_digest IS NOT NULL',
          [now, clientId],
        );
  if (changes !== 1) return false;
  await appendEvent(tx, ctx, { type: 'client.secret_revoked', target: clientId, outcome: 'success', reason, data: { which } }, meta);
  tx.notify(CLIENTS_CHANNEL, clientId);
  return true;
}

/** The OAuth clients `principalId` owns, by id (offboarding disables or hands them over). */
export async function clientsOwnedBy(db: Queryable, principalId: string): Promise<{ id: string; status: 'active' | 'disabled' }[]> {
  return db.all<{ id: string; status: 'active' | 'disabled' }>('SELECT id, status FROM oauth_clients WHERE principal_id = ? ORDER BY id', [principalId]);
}

/**
 * Hands the client `clientId` over from `from` to `to` inside the caller's transaction, with one
 * `client.transferred` event; `false` when `from` no longer owns it (nothing written).
 */
export async function transferClientIn(tx: Transaction, ctx: Context, clientId: string, from: string, to: string, meta: RequestMeta): Promise<boolean> {
  const { changes } = await tx.run('UPDATE oauth_clients SET principal_id = ?, updated_at = ? WHERE id = ? AND principal_id = ?', [to, ctx.now().getTime(), clientId, from]);
  if (changes !== 1) return false;
  await appendEvent(tx, ctx, { type: 'client.transferred', target: clientId, outcome: 'success', reason: 'offboarding', data: { from, to } }, meta);
  tx.notify(CLIENTS_CHANNEL, clientId);
  return true;
}
