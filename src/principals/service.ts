import { z } from 'zod';
import { appendEvent, type RequestMeta } from '../audit/index.js';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { checkCursor, newId } from '../core/ids.js';
import { PRINCIPAL_LIFECYCLE, transition, type StateOf } from '../core/lifecycle.js';
import type { PolicyCatalog } from '../core/policy.js';
import { validate } from '../core/validate.js';
import type { EgressGuard } from '../jobs/index.js';
import { isUniqueViolation, type Queryable, type Store, type Transaction } from '../store/port.js';

export const PRINCIPAL_KINDS = ['user', 'service'] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];
/** A principal's status: the states of {@link PRINCIPAL_LIFECYCLE} (live: `active`). */
export type PrincipalStatus = StateOf<typeof PRINCIPAL_LIFECYCLE>;

export interface Principal {
  readonly id: string;
  readonly kind: PrincipalKind;
  readonly name: string;
  readonly email: string | null;
  readonly status: PrincipalStatus;
  readonly createdAt: string;
  readonly metadata: Record<string, unknown>;
  /** Where leak notifications for this principal's credentials are POSTed, if anywhere. */
  readonly webhookUrl: string | null;
  /** The lifetime policy this principal's keys follow unless a key names its own; `null`: the deployment default. */
  readonly policy: string | null;
}

/** Free-form, bounded metadata: at most 32 keys, 4 KiB serialised. */
export const metadataSchema = z
  .record(z.string().max(64), z.union([z.string().max(512), z.number(), z.boolean(), z.null()]))
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 metadata keys')
  .refine((m) => JSON.stringify(m).length <= 4096, 'metadata larger than 4 KiB');

export const createPrincipalSchema = z.strictObject({
  kind: z.enum(PRINCIPAL_KINDS),
  name: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]*$/, 'letters, digits and . _ @ + - only, starting with a letter or digit'),
  email: z.email().max(254).optional(),
  metadata: metadataSchema.optional(),
  /** http(s) URL that receives leak notifications (`POST`, JSON) for this principal's credentials. */
  webhookUrl: z.url({ protocol: /^https?$/ }).max(2048).optional(),
  /** The lifetime policy of this principal's keys (default: the deployment's default policy). */
  policy: z.string().min(1).max(64).optional(),
});
export type CreatePrincipalInput = z.input<typeof createPrincipalSchema>;

interface PrincipalRow {
  id: string;
  kind: PrincipalKind;
  name: string;
  email: string | null;
  status: PrincipalStatus;
  created_at: number;
  metadata: string;
  webhook_url: string | null;
  policy?: string | null;
}

function toPrincipal(row: PrincipalRow): Principal {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    email: row.email,
    status: row.status,
    createdAt: new Date(row.created_at).toISOString(),
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    webhookUrl: row.webhook_url ?? null,
    policy: row.policy ?? null,
  };
}

/** Channel announcing principal changes (status), so verification caches drop what they hold. */
export const PRINCIPALS_CHANNEL = 'principals';

/** Principals: the people and workloads that credentials act for. */
export class PrincipalService {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #egress: EgressGuard | undefined;
  readonly #policies: PolicyCatalog | undefined;

  /**
   * `egress` checks webhook URLs (loopback, private, metadata addresses refused; none: not checked);
   * `policies` is where a named policy is checked to exist (without it, naming a policy is refused).
   */
  constructor(store: Store, ctx: Context, options: { readonly egress?: EgressGuard; readonly policies?: PolicyCatalog } = {}) {
    this.#store = store;
    this.#ctx = ctx;
    this.#egress = options.egress;
    this.#policies = options.policies;
  }

  /** Refuses a policy name the catalog does not know (`ERR_VALIDATION` naming the known ones). */
  async #checkPolicy(name: string): Promise<void> {
    if (!this.#policies) throw new KeyturnError('ERR_VALIDATION', 'policy: no stored policies here');
    await this.#policies.ensure?.(name);
    this.#policies.current(name);
  }

  /** Creates a principal; `ERR_CONFLICT` when the name is taken. */
  async create(input: unknown, meta: RequestMeta): Promise<Principal> {
    const data = validate(createPrincipalSchema, input);
    if (data.webhookUrl !== undefined) await this.#egress?.check(data.webhookUrl, 'webhookUrl');
    return this.#store.transaction((tx) => this.createIn(tx, data, meta));
  }

  /** Same as {@link create}, inside a caller's transaction (bootstrap). */
  async createIn(tx: Transaction, data: z.output<typeof createPrincipalSchema>, meta: RequestMeta): Promise<Principal> {
    if (data.policy !== undefined) await this.#checkPolicy(data.policy);
    if (await tx.get('SELECT id FROM principals WHERE name = ?', [data.name])) {
      throw new KeyturnError('ERR_CONFLICT', `a principal named "${data.name}" already exists`);
    }
    const row: PrincipalRow = {
      id: newId('prn', this.#ctx),
      kind: data.kind,
      name: data.name,
      email: data.email ?? null,
      status: 'active',
      created_at: this.#ctx.now().getTime(),
      metadata: JSON.stringify(data.metadata ?? {}),
      webhook_url: data.webhookUrl ?? null,
      policy: data.policy ?? null,
    };
    try {
      await tx.run('INSERT INTO principals (id, kind, name, email, status, created_at, metadata, webhook_url, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
        row.id,
        row.kind,
        row.name,
        row.email,
        row.status,
        row.created_at,
        row.metadata,
        row.webhook_url,
        row.policy ?? null,
      ]);
    } catch (err) {
      // A concurrent creation of the same name on another connection.
      if (isUniqueViolation(err)) throw new KeyturnError('ERR_CONFLICT', `a principal named "${data.name}" already exists`);
      throw err;
    }
    await appendEvent(tx, this.#ctx, { type: 'principal.created', target: row.id, outcome: 'success', data: { kind: row.kind, name: row.name } }, meta);
    return toPrincipal(row);
  }

  /** Looks a principal up by id or by name. */
  async find(idOrName: string, db: Queryable = this.#store): Promise<Principal | undefined> {
    const row = await db.get<PrincipalRow>('SELECT * FROM principals WHERE id = ? OR name = ?', [idOrName, idOrName]);
    return row && toPrincipal(row);
  }

  /** Looks a principal up by id only: for stored references (a key's owner), which are never names. */
  async byId(id: string, db: Queryable = this.#store): Promise<Principal | undefined> {
    const row = await db.get<PrincipalRow>('SELECT * FROM principals WHERE id = ?', [id]);
    return row && toPrincipal(row);
  }

  /** {@link byId} for several ids in one read (ids without a principal are absent from the map). */
  async byIds(ids: readonly string[], db: Queryable = this.#store): Promise<Map<string, Principal>> {
    const found = new Map<string, Principal>();
    const unique = [...new Set(ids)];
    for (let at = 0; at < unique.length; at += 500) {
      const part = unique.slice(at, at + 500);
      const rows = await db.all<PrincipalRow>(`SELECT * FROM principals WHERE id IN (${part.map(() => '?').join(', ')})`, part);
      for (const row of rows) found.set(row.id, toPrincipal(row));
    }
    return found;
  }

  /** Like {@link find}, or `ERR_NOT_FOUND`. */
  async get(idOrName: string, db: Queryable = this.#store): Promise<Principal> {
    const found = await this.find(idOrName, db);
    if (!found) throw new KeyturnError('ERR_NOT_FOUND', 'no such principal');
    return found;
  }

  async list(query: { kind?: PrincipalKind; limit?: number; after?: string } = {}): Promise<Principal[]> {
    const where = ['id > ?'];
    const params: (string | number)[] = [checkCursor('prn', query.after)];
    if (query.kind) {
      where.push('kind = ?');
      params.push(query.kind);
    }
    params.push(Math.min(Math.max(query.limit ?? 100, 1), 1000));
    const rows = await this.#store.all<PrincipalRow>(`SELECT * FROM principals WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, params);
    return rows.map(toPrincipal);
  }

  /**
   * Disables or re-enables a principal. Takes effect at once for its API keys (caches are told on
   * the principals channel) and at the next token request or refresh for its OAuth clients and grants.
   * Setting the status it has is a no-op answer; an offboarded principal is `ERR_CREDENTIAL_STATE`.
   */
  async setStatus(idOrName: string, status: 'active' | 'disabled', meta: RequestMeta): Promise<Principal> {
    return this.#store.transaction(async (tx) => {
      const principal = await this.get(idOrName, tx);
      const step = transition(PRINCIPAL_LIFECYCLE, principal.status, status === 'active' ? 'enable' : 'disable');
      if (!step.changed) return principal;
      await tx.run('UPDATE principals SET status = ? WHERE id = ?', [step.to, principal.id]);
      await appendEvent(
        tx,
        this.#ctx,
        { type: status === 'active' ? 'principal.enabled' : 'principal.disabled', target: principal.id, outcome: 'success', data: { previous: principal.status } },
        meta,
      );
      tx.notify(PRINCIPALS_CHANNEL, principal.id);
      return { ...principal, status: step.to };
    });
  }

  /**
   * Names the lifetime policy of a principal's keys (`null`: back to the deployment default). Keys
   * that name no policy of their own follow it from their next rotation; the keys in use keep the
   * version they were issued under.
   */
  async setPolicy(idOrName: string, policy: string | null, meta: RequestMeta): Promise<Principal> {
    if (policy !== null) await this.#checkPolicy(policy);
    return this.#store.transaction(async (tx) => {
      const principal = await this.get(idOrName, tx);
      if (principal.policy === policy) return principal;
      await tx.run('UPDATE principals SET policy = ? WHERE id = ?', [policy, principal.id]);
      await appendEvent(tx, this.#ctx, { type: 'principal.policy_set', target: principal.id, outcome: 'success', data: { policy, previous: principal.policy } }, meta);
      return { ...principal, policy };
    });
  }

  async count(): Promise<number> {
    const row = await this.#store.get<{ n: number }>('SELECT COUNT(*) AS n FROM principals');
    return Number(row?.n ?? 0);
  }
}

/**
 * Marks `principal` offboarded inside the caller's transaction (the offboarding that records its
 * plan in the same one). Refused by {@link PRINCIPAL_LIFECYCLE} for an offboarded principal
 * (`ERR_CREDENTIAL_STATE`). Caches drop what they hold for it at commit: its keys stop verifying.
 */
export async function markOffboardedIn(tx: Transaction, principal: Principal): Promise<void> {
  const step = transition(PRINCIPAL_LIFECYCLE, principal.status, 'offboard');
  // Conditional on the status read: of two concurrent offboardings exactly one goes on.
  const changed = await tx.run('UPDATE principals SET status = ? WHERE id = ? AND status = ?', [step.to, principal.id, principal.status]);
  if (changed.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the principal changed concurrently; try again');
  tx.notify(PRINCIPALS_CHANNEL, principal.id);
}

/** A credential a person was exposed to (created or revealed it), once per credential, however often. */
export interface Exposure {
  readonly type: 'api_key' | 'refresh_token' | 'client_secret';
  readonly id: string;
}

/** Every credential `principalId` was exposed to, in a stable order (type, then id). */
export async function exposuresOf(db: Queryable, principalId: string): Promise<Exposure[]> {
  const rows = await db.all<{ credential_type: Exposure['type']; credential_id: string }>(
    'SELECT DISTINCT credential_type, credential_id FROM exposures WHERE principal_id = ? ORDER BY credential_type, credential_id',
    [principalId],
  );
  return rows.map((r) => ({ type: r.credential_type, id: r.credential_id }));
}

/** Records that a person saw a secret. Workloads are not recorded: they do not leave. */
export async function recordExposure(
  tx: Transaction,
  ctx: Context,
  meta: RequestMeta,
  credential: { type: 'api_key' | 'refresh_token' | 'client_secret'; id: string },
  kind: 'created' | 'revealed',
): Promise<void> {
  if (!meta.actor || meta.actorKind !== 'user') return;
  await tx.run('INSERT INTO exposures (id, principal_id, credential_type, credential_id, kind, at) VALUES (?, ?, ?, ?, ?, ?)', [
    newId('exp', ctx),
    meta.actor,
    credential.type,
    credential.id,
    kind,
    ctx.now().getTime(),
  ]);
}

/**
 * The status of the principal with id `id` (exactly that id, never a name), or `undefined` when
 * there is none: what other capabilities read to tell whether a principal still stands.
 *
 * @example
 * ```ts
 * if ((await principalStatus(store, grant.principal)) !== 'active') return { active: false };
 * ```
 */
export async function principalStatus(db: Queryable, id: string): Promise<PrincipalStatus | undefined> {
  return (await db.get<{ status: PrincipalStatus }>('SELECT status FROM principals WHERE id = ?', [id]))?.status;
}

/** What other capabilities need to know of a principal to answer for its credentials. */
export type PrincipalStanding = Pick<Principal, 'status' | 'name' | 'kind'>;

/**
 * The status, name and kind of the principal with id `id`, or `undefined` when there is none:
 * what key verification reads (once per cache miss) to tell whether the owner still stands.
 *
 * @example
 * ```ts
 * const owner = await principalStanding(store, row.principal_id);
 * if (owner?.status !== 'active') return { valid: false, reason: 'principal_inactive' };
 * ```
 */
export async function principalStanding(db: Queryable, id: string): Promise<PrincipalStanding | undefined> {
  return db.get<PrincipalStanding>('SELECT status, name, kind FROM principals WHERE id = ?', [id]);
}
