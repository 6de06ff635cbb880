import { z } from 'zod';
import { appendEvent, type RequestMeta } from '../audit/index.js';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { BINDINGS, POLICY_PRESETS, policyWeakenings, unknownPolicy, type Policy, type PolicyCatalog, type PolicyVersion } from '../core/policy.js';
import { validate } from '../core/validate.js';
import { isUniqueViolation, type Store } from '../store/port.js';

/** Channel announcing a new policy version (its name): every node reloads its catalog. */
export const POLICIES_CHANNEL = 'policies';

const DAY = 86_400;
const seconds = (min: number, max: number) => z.number().int().min(min).max(max);
const interval = seconds(60, 3650 * DAY).nullable();

/** Every field of a policy but its name, each bounded. */
const fields = {
  accessTokenTtl: seconds(30, 365 * DAY),
  accessTokenFormat: z.enum(['jwt', 'opaque']),
  refreshTokens: z.boolean(),
  clientCredentialsRefresh: z.boolean(),
  refreshTokenTtl: seconds(60, 730 * DAY),
  refreshFamilyTtl: seconds(60, 730 * DAY),
  refreshReuseGraceSeconds: seconds(0, 300),
  refreshReuseGraceCount: seconds(0, 10),
  exchangeTokenTtl: seconds(30, DAY),
  secretRotationGrace: seconds(0, 30 * DAY),
  secretRotationInterval: interval,
  secretMaxAge: interval,
  keyRotationInterval: interval,
  keyMaxAge: interval,
  keyRotationGrace: seconds(0, 30 * DAY),
  deadline: z.enum(['hard', 'soft']),
  binding: z.enum(BINDINGS),
};

/** A policy name: lower case, digits and dashes. */
export const policyNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'a lower-case letter, then letters, digits or - (at most 64)');

const changes = z.strictObject(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.optional()])) as { [K in keyof typeof fields]: z.ZodOptional<(typeof fields)[K]> });

/** `POST /v1/policies`: a new policy, starting from `from` (default `default`) with the fields given. */
export const createPolicySchema = changes.extend({ name: policyNameSchema, from: z.string().max(64).optional() });
/** `PATCH /v1/policies/:name`: the fields that change; a new version is recorded. */
export const updatePolicySchema = changes;

/** A stored policy version as the admin API shows it. */
export interface PolicyView {
  readonly name: string;
  readonly version: number;
  readonly policy: Policy;
  readonly createdAt: string;
  readonly createdBy: string | null;
}

/** How many credentials one version of a policy still governs, per kind. */
export interface GovernedCount {
  readonly kind: 'api_key' | 'client_secret';
  readonly version: number;
  readonly count: number;
}

/** Counts the credentials of one kind that a policy governs, per version (the keys and client capabilities supply them). */
export type GovernedCounter = (name: string) => Promise<GovernedCount[]>;

interface Row {
  name: string;
  version: number | string;
  spec: string;
  created_at: number | string;
  created_by: string | null;
}

/** Checks what the field bounds alone cannot: a rotation interval must come before the deadline it serves. */
function checkCoherent(policy: Policy): void {
  for (const [intervalField, maxField] of [
    ['keyRotationInterval', 'keyMaxAge'],
    ['secretRotationInterval', 'secretMaxAge'],
  ] as const) {
    const every = policy[intervalField];
    const max = policy[maxField];
    if (every !== null && max !== null && every >= max) {
      throw new KeyturnError('ERR_VALIDATION', `${intervalField} (${every}s) must be shorter than ${maxField} (${max}s): a credential would reach its deadline before it is rotated`);
    }
  }
  if (policy.refreshFamilyTtl < policy.refreshTokenTtl) throw new KeyturnError('ERR_VALIDATION', 'refreshFamilyTtl must be at least refreshTokenTtl');
}

/**
 * Named, versioned lifetime policies in the store. The presets of `src/core/policy.ts` are seeded
 * as version 1 of `default`, `banking`, `public-read` and `internal` on first start; every change
 * records a new version (a version is never altered), so a credential keeps the rules it was issued
 * under until it rotates. A change that weakens anything records `policy.weakened` instead of
 * `policy.updated`. Every node keeps all versions in memory (they are few) and reloads them when
 * the change feed announces one; services read them through {@link PolicyCatalog}.
 *
 * @example
 * ```ts
 * const policies = new PolicyService({ store, ctx, defaultName: 'default' });
 * await policies.load();
 * await policies.update('banking', { keyRotationGrace: 1800 }, meta); // version 2
 * policies.current('banking').version; // 2
 * ```
 */
export class PolicyService implements PolicyCatalog {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly defaultName: string;
  readonly #counters: GovernedCounter[] = [];
  /** name → versions in ascending order. */
  #versions = new Map<string, PolicyView[]>();
  #unsubscribe: (() => void) | undefined;
  #reloadsStarted = 0;
  #reloadApplied = 0;

  constructor(options: { store: Store; ctx: Context; defaultName?: string }) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.defaultName = options.defaultName ?? 'default';
  }

  /** Seeds the presets (once per database), loads every version and follows the change feed. */
  async load(): Promise<void> {
    const now = this.#ctx.now().getTime();
    for (const preset of Object.values(POLICY_PRESETS)) {
      // Why: first start seeds version 1 of each preset; a later start (or a concurrent node) changes nothing.
      await this.#store.run('INSERT INTO rotation_policies (name, version, spec, created_at, created_by) VALUES (?, 1, ?, ?, NULL) ON CONFLICT (name, version) DO NOTHING', [
        preset.name,
        JSON.stringify(preset),
        now,
      ]);
    }
    this.#unsubscribe ??= this.#store.subscribe(POLICIES_CHANNEL, () => {
      this.#reload().catch(() => undefined);
    });
    await this.#reload();
    if (!this.#versions.has(this.defaultName)) throw new KeyturnError('ERR_CONFIG', `rotation.defaultPolicy: no policy named "${this.defaultName}"`);
  }

  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Adds a source of {@link GovernedCount}s for `show` (API keys, client secrets). */
  countWith(counter: GovernedCounter): void {
    this.#counters.push(counter);
  }

  async #reload(): Promise<void> {
    // Reloads may overlap (a notification, an `ensure`) and finish out of order on a pool: only a
    // read that started after the one last applied may replace it, never an older, staler one.
    const started = ++this.#reloadsStarted;
    const rows = await this.#store.all<Row>('SELECT * FROM rotation_policies ORDER BY name, version');
    if (started < this.#reloadApplied) return;
    this.#reloadApplied = started;
    const next = new Map<string, PolicyView[]>();
    for (const row of rows) {
      const view = toView(row);
      const list = next.get(view.name) ?? [];
      list.push(view);
      next.set(view.name, list);
    }
    this.#versions = next;
  }

  /** Reloads when `name` (at `version`) is not known here yet: another node may have just created it. */
  async ensure(name: string, version?: number): Promise<void> {
    const list = this.#versions.get(name);
    if (list && (version === undefined || list.some((v) => v.version === version))) return;
    await this.#reload();
  }

  current(name: string): PolicyVersion {
    const latest = this.#versions.get(name)?.at(-1);
    if (!latest) throw unknownPolicy(name, this.#names());
    return { policy: latest.policy, version: latest.version };
  }

  /** Every policy name: the presets in their order, then the others by name. */
  #names(): string[] {
    const presets = Object.keys(POLICY_PRESETS);
    return [...presets.filter((n) => this.#versions.has(n)), ...[...this.#versions.keys()].filter((n) => !presets.includes(n)).sort()];
  }

  at(name: string, version: number): PolicyVersion | undefined {
    const found = this.#versions.get(name)?.find((v) => v.version === version);
    return found && { policy: found.policy, version: found.version };
  }

  /** The current version of every policy, by name. */
  async list(): Promise<PolicyView[]> {
    await this.#reload();
    return this.#names().map((name) => this.#versions.get(name)!.at(-1)!);
  }

  /** One policy: its current version, and every version with the credentials it still governs. */
  async show(name: string): Promise<PolicyView & { versions: (Omit<PolicyView, 'name'> & { governs: { apiKeys: number; clientSecrets: number } })[] }> {
    await this.ensure(name);
    const versions = this.#versions.get(name);
    if (!versions) throw new KeyturnError('ERR_NOT_FOUND', `no policy named "${name.slice(0, 64)}"`);
    const counts = (await Promise.all(this.#counters.map((count) => count(name)))).flat();
    const governs = (version: number, kind: GovernedCount['kind']) => counts.filter((c) => c.version === version && c.kind === kind).reduce((n, c) => n + c.count, 0);
    return {
      ...versions.at(-1)!,
      versions: versions.map(({ name: _name, ...v }) => ({ ...v, governs: { apiKeys: governs(v.version, 'api_key'), clientSecrets: governs(v.version, 'client_secret') } })),
    };
  }

  /** Creates a policy (version 1) from `from` (default `default`) and the fields given. */
  async create(input: unknown, meta: RequestMeta): Promise<PolicyView> {
    const { name, from, ...changed } = validate(createPolicySchema, input);
    await this.ensure(from ?? this.defaultName);
    const base = this.current(from ?? this.defaultName).policy;
    const policy: Policy = { ...base, ...defined(changed), name };
    checkCoherent(policy);
    const view = await this.#store.transaction(async (tx) => {
      if (await tx.get('SELECT name FROM rotation_policies WHERE name = ?', [name])) throw new KeyturnError('ERR_CONFLICT', `a policy named "${name}" already exists`);
      await this.#insert(tx, policy, 1, meta);
      await appendEvent(tx, this.#ctx, { type: 'policy.created', target: name, outcome: 'success', data: { version: 1, from: base.name } }, meta);
      return { name, version: 1, policy, createdAt: this.#ctx.now().toISOString(), createdBy: meta.actor };
    });
    // This node knows its own change at once; the others when the feed tells them.
    await this.#reload();
    return view;
  }

  /**
   * Records a new version of `name` with the fields given. A change that weakens anything records
   * `policy.weakened` (with the fields it weakens); any other, `policy.updated`. A change that
   * changes nothing is answered with the current version and records nothing.
   */
  async update(name: string, input: unknown, meta: RequestMeta): Promise<PolicyView> {
    const changed = defined(validate(updatePolicySchema, input));
    const view = await this.#store.transaction(async (tx): Promise<PolicyView> => {
      const row = await tx.get<Row>('SELECT * FROM rotation_policies WHERE name = ? ORDER BY version DESC LIMIT 1', [name]);
      if (!row) throw new KeyturnError('ERR_NOT_FOUND', `no policy named "${name.slice(0, 64)}"`);
      const before = toView(row);
      const policy: Policy = { ...before.policy, ...changed, name };
      checkCoherent(policy);
      const fieldsChanged = (Object.keys(changed) as (keyof Policy)[]).filter((k) => policy[k] !== before.policy[k]);
      if (fieldsChanged.length === 0) return before;
      const version = before.version + 1;
      await this.#insert(tx, policy, version, meta);
      const weakened = policyWeakenings(before.policy, policy);
      if (weakened.length > 0) {
        await appendEvent(tx, this.#ctx, { type: 'policy.weakened', target: name, outcome: 'success', data: { version, changed: fieldsChanged, weakened } }, meta);
      } else {
        await appendEvent(tx, this.#ctx, { type: 'policy.updated', target: name, outcome: 'success', data: { version, changed: fieldsChanged } }, meta);
      }
      return { name, version, policy, createdAt: this.#ctx.now().toISOString(), createdBy: meta.actor };
    });
    await this.#reload();
    return view;
  }

  async #insert(tx: Parameters<Parameters<Store['transaction']>[0]>[0], policy: Policy, version: number, meta: RequestMeta): Promise<void> {
    try {
      await tx.run('INSERT INTO rotation_policies (name, version, spec, created_at, created_by) VALUES (?, ?, ?, ?, ?)', [
        policy.name,
        version,
        JSON.stringify(policy),
        this.#ctx.now().getTime(),
        meta.actor,
      ]);
    } catch (err) {
      if (isUniqueViolation(err)) throw new KeyturnError('ERR_CONFLICT', `policy ${policy.name} changed concurrently; try again`);
      throw err;
    }
    tx.notify(POLICIES_CHANNEL, policy.name);
  }
}

/** The fields of a partial change that were given (an explicit `null` interval counts). */
function defined<T extends object>(changed: T): Partial<Policy> {
  return Object.fromEntries(Object.entries(changed).filter(([, v]) => v !== undefined)) as Partial<Policy>;
}

function toView(row: Row): PolicyView {
  // Fields added to Policy after a version was stored take the preset's (or default's) value.
  const stored = JSON.parse(row.spec) as Partial<Policy>;
  const base = POLICY_PRESETS[row.name] ?? POLICY_PRESETS.default!;
  return {
    name: row.name,
    version: Number(row.version),
    policy: { ...base, ...stored, name: row.name },
    createdAt: new Date(Number(row.created_at)).toISOString(),
    createdBy: row.created_by,
  };
}
