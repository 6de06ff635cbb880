import { z } from 'zod';
import { credentialFingerprint } from '../core/fingerprint.js';
import { appendEvent, appendEvents, FailureLog, SYSTEM, type RequestMeta } from '../audit/index.js';
import { ChangeCache, followChanges } from '../core/change-cache.js';
import type { Context } from '../core/context.js';
import { parseDuration } from '../core/duration.js';
import { KeyturnError } from '../core/errors.js';
import { API_KEY_LIFECYCLE, isLive, isLiveAt, PRINCIPAL_LIFECYCLE, transition, type StateOf } from '../core/lifecycle.js';
import { checkCursor, newId } from '../core/ids.js';
import { presetCatalog, type PolicyCatalog, type PolicyVersion } from '../core/policy.js';
import { Pacer, type PacerClock } from '../core/pacing.js';
import { assertPrefix, generateSecret, MAX_SECRET_LENGTH, parseSecret, secretDigest, secretDisplay, tryParseSecret } from '../core/secret.js';
import { keyBindingSchema, type KeyBinding } from '../binding/index.js';
import { scopeSchema } from '../core/scopes.js';
import { validate } from '../core/validate.js';
import {
  metadataSchema,
  PRINCIPALS_CHANNEL,
  principalStanding,
  recordExposure,
  type OffboardingParticipant,
  type Principal,
  type PrincipalService,
  type PrincipalStanding,
} from '../principals/index.js';
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
  /** The policy the key names itself; `null`: its principal's, then the deployment default. */
  readonly policy: string | null;
  /** The policy it was issued under, and that policy's version then (`null` for keys older than stored policies). */
  readonly policyName: string | null;
  readonly policyVersion: number | null;
  /** The key this one succeeded, if it was issued by a rotation. */
  readonly predecessor: string | null;
  /** When it is due for rotation (the scheduler rotates it then), or `null`. */
  readonly rotateAt: string | null;
  /** Its maximum age's end, or `null`; what happens then is {@link deadline}. */
  readonly deadlineAt: string | null;
  /** `hard`: it stops at its deadline (or its grace end); `soft`: it keeps working, flagged. */
  readonly deadline: 'hard' | 'soft';
  /** While `rotating`: when its grace ends. */
  readonly graceEndsAt: string | null;
  /** Where the key may be used from, when restricted. */
  readonly binding?: KeyBinding;
}

/** A rotation's answer: the successor (its secret once) and the predecessor as it now is. */
export interface Rotation {
  readonly key: KeyView;
  readonly secret: string;
  readonly predecessor: KeyView;
}

/**
 * A key event told to the outside (webhooks to the key's owner), in the transaction of the change,
 * after its audit event: `key.rotated`, `key.revoked`, and the scheduler's notices
 * `key.rotation_due` (its rotation comes within the notice window) and `key.expiring` (its expiry
 * or maximum age does). Never carries a secret.
 */
export interface KeyLifecycleEvent {
  readonly type: 'key.rotated' | 'key.revoked' | 'key.rotation_due' | 'key.expiring';
  readonly key: KeyView;
  readonly data: Record<string, unknown>;
}

/** Hears {@link KeyLifecycleEvent}s in the change's transaction (a throw rolls the change back); resolves to the deliveries written. */
export type KeyEventHook = (tx: Transaction, event: KeyLifecycleEvent) => Promise<number>;

/**
 * Hears several {@link KeyLifecycleEvent}s of one transaction at once (a chunk of scheduled
 * rotations), in order; resolves to the deliveries written for each. When set, it is used instead
 * of {@link KeyEventHook} wherever a change has several events, so a chunk costs one lookup of the
 * owners' endpoints instead of one per key.
 */
export type KeyEventsHook = (tx: Transaction, events: readonly KeyLifecycleEvent[]) => Promise<readonly number[]>;

/**
 * Who rotated a key: an admin, the holder with the key itself, the scheduler, or the offboarding
 * of a person who saw it (its successor is then sealed for an administrator only).
 */
export type RotatedBy = 'admin' | 'self' | 'schedule' | 'offboarding';

/**
 * Who may collect a sealed successor: the holder presenting the old key (`POST /v1/keys/self/rotate`),
 * or only an administrator (`POST /v1/keys/:id/reveal-successor`) — when the old key may be known
 * to someone who must not get the new one (it leaked, or a person who saw it left).
 */
export type PickupBy = 'holder' | 'admin';

/**
 * Seals a scheduled successor's secret until its holder collects it (AES-256-GCM under the master
 * key in the server; `associated` binds the ciphertext to the key id).
 */
export interface SecretSealer {
  seal(plaintext: string, associated: string): string;
  open(sealed: string, associated: string): string;
}

/**
 * What a verification tells about rotation, present when the key has a schedule, a deadline or is
 * in its grace: the API server passes it on (`Sunset` header) so the holder hears of it.
 */
export interface KeyRotationState {
  /** `rotating`: a successor exists and this key works until `sunset`. */
  readonly status: 'active' | 'rotating';
  /** When rotation is (or was) due, or `null`. */
  readonly dueAt: string | null;
  /** When this key stops working (grace end, hard deadline or expiry), or `null`. */
  readonly sunset: string | null;
  /** A soft deadline that has passed (or will): the key keeps working past it, flagged. */
  readonly softDeadline: string | null;
}

/** The answer to "is this key good?": a result, not an exception (only an outage throws). */
export type Verification =
  | { readonly valid: true; readonly key: VerifiedKey }
  | { readonly valid: false; readonly reason: VerificationFailure };

/** `revoked` also covers a retired key and a rotated key past its grace (wire code `ERR_KEY_REVOKED`). */
export type VerificationFailure = 'malformed' | 'unknown' | 'expired' | 'revoked' | 'suspended' | 'principal_inactive';

/** What the verification cache keeps about a live key: never the secret. */
interface CachedKey {
  /** The answer for this key while it has not expired: built once, shared by every hit. */
  readonly answer: { readonly valid: true; readonly key: VerifiedKey };
  /** Key id: a change on the keys channel names it. */
  readonly id: string;
  /** When it stops verifying, in ms: the earliest of its expiry and, under a hard deadline, its maximum age and grace end; or `null`. */
  readonly expiresAt: number | null;
  /** Why it stops then: a grace end answers `revoked` (it was rotated), anything else `expired`. */
  readonly endReason: 'expired' | 'revoked';
}

export interface VerifiedKey {
  readonly id: string;
  readonly principal: string;
  readonly principalName: string;
  readonly principalKind: 'user' | 'service';
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresAt: string | null;
  /** Present when the key has a rotation schedule, a deadline, or is in its grace. */
  readonly rotation?: KeyRotationState;
  /** Where the key may be used from (issue 13 item 7): source networks and/or a client certificate. */
  readonly binding?: KeyBinding;
}

export const createKeySchema = z.strictObject({
  owner: z.string().min(1).max(128),
  name: z.string().min(1).max(128),
  scopes: z.array(scopeSchema).max(64).default([]),
  /** ISO time, or use `expiresIn`. */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  expiresIn: z.string().max(32).optional(),
  metadata: metadataSchema.optional(),
  /** A lifetime policy name; default: the owner's, then the deployment default. */
  policy: z.string().min(1).max(64).optional(),
  /** Restrict the key to source networks (CIDRs) and/or a client certificate (`x5t#S256`); successors keep it. */
  binding: keyBindingSchema.optional(),
});

/** `POST /v1/keys/:id/rotate`: the grace in seconds (default: the policy's, which is also the most it allows). */
export const rotateKeySchema = z.strictObject({ graceSeconds: z.number().int().min(0).max(31_536_000).optional() }).nullish();

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
  policy: string | null;
  policy_name: string | null;
  policy_version: number | null;
  predecessor_id: string | null;
  rotate_at: number | null;
  deadline_at: number | null;
  deadline: 'hard' | 'soft';
  grace_ends_at: number | null;
  pickup: string | null;
  pickup_by?: PickupBy;
  flagged_at: number | null;
  due_noticed_at?: number | string | null;
  expiry_noticed_at?: number | string | null;
  binding?: string | null;
}

/** Channel on which the id of every changed key is announced. */
export const KEYS_CHANNEL = 'keys';

/** Keys rotated per transaction by the scheduler: few commits, and short enough not to hold the writer long. */
const ROTATION_CHUNK = 100;

/** New key rows per INSERT (26 parameters each: well under SQLite's 32,766 and PostgreSQL's 65,535). */
const INSERT_BATCH = 200;

/** Why a due key is passed over by the scheduler without failing its chunk. */
const EXPECTED_REFUSALS: readonly string[] = ['ERR_CONFLICT', 'ERR_KEY_STATE', 'ERR_PRINCIPAL_INACTIVE', 'ERR_NOT_FOUND'];

/** A rotation checked but not yet written: the key, its owner, when its grace ends. */
interface PlannedRotation {
  readonly row: KeyRow;
  readonly owner: Principal;
  readonly graceEndsAt: number;
}

/** A rotation whose successor is built (its secret sealed when the scheduler or an offboarding rotates). */
interface IssuedRotation extends PlannedRotation {
  readonly next: KeyRow;
  readonly secret: string;
  readonly governing: PolicyVersion;
}

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
  /**
   * How long a digest no stored key has is answered `unknown` without a read (ms, default 10 000;
   * `0`: never), and how many such digests are kept (default 10 000, least recently used first out).
   * Safe because keyturn only ever generates secrets (256 random bits): a digest unknown now names
   * no key created later. It keeps a flood of one invented key off the store.
   */
  readonly unknownCacheMs?: number;
  readonly unknownCacheMaxEntries?: number;
  /** Stored lifetime policies (default: the presets alone, each at version 1). */
  readonly policies?: PolicyCatalog;
  /** Seals scheduled successors for pick-up; without it scheduled rotation is refused. */
  readonly sealer?: SecretSealer;
  /**
   * The most of this process's time scheduled rotation may take while keys are due, between 0
   * and 1 (default 0.2): after each transaction of keys it pauses for as long as that took times
   * `(1 - share) / share`, plus the event loop's busy time during the pause divided by the share
   * (the audit checkpoint, feed invalidations, deliveries and garbage collection the transaction
   * caused), so that verification keeps the rest (see {@link Pacer}). `1`: no pause.
   */
  readonly rotationShare?: number;
  /** Where the pacing reads time and busy time and how it waits (default: this process's); tests pass their own. */
  readonly pacerClock?: PacerClock;
  /**
   * Where failed verifications are recorded, aggregated (the runtime shares one with the OAuth
   * endpoints). Default: one of the service's own, with default settings, flushed at {@link KeyService.close}.
   */
  readonly failures?: FailureLog;
  /** Open leak findings guard unsuspending (set by the composition root from the leak response). */
  readonly leakGuard?: KeyLeakGuard;
  /** Hears key events in their transaction (the composition root fans them out to webhooks). */
  readonly onEvent?: KeyEventHook;
  /** The same for several events of one transaction at once (see {@link KeyEventsHook}); default: `onEvent` for each. */
  readonly onEvents?: KeyEventsHook;
  /**
   * The deployment's event salt: with it, `key.created` and `key.rotated` name the new secret by an
   * `hmac-sha256:` fingerprint (see `credentialFingerprint`), so a leaked key is matched to its events.
   */
  readonly eventSalt?: Uint8Array;
  /** Where successful uses are counted (the audit usage log); none counted without it. */
  readonly usage?: KeyUsageCounter;
}

/** Counts successful uses of keys, in memory (the audit capability's `UsageLog` fits). */
export interface KeyUsageCounter {
  note(keyId: string, sourceIp: string | null | undefined): void;
}

/**
 * What the leak response tells key operations, without keys reading its tables (dependency
 * inversion: the composition root passes the leak response's implementation).
 */
export interface KeyLeakGuard {
  /** Ids of the key's leak findings nobody has acknowledged, read in `tx`. */
  openFindings(tx: Transaction, keyId: string): Promise<readonly string[]>;
  /** Marks them acknowledged by `meta.actor`, with one `leak.acknowledged` event, in `tx`. */
  acknowledge(tx: Transaction, keyId: string, findings: readonly string[], meta: RequestMeta): Promise<void>;
}

const UNKNOWN: Verification = Object.freeze({ valid: false as const, reason: 'unknown' as const });

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
  /** Digests of well-formed secrets no stored key has (answered `unknown` without a read). */
  readonly #unknown: ChangeCache<true>;
  readonly #unknownMs: number;
  readonly #unsubscribe: () => void;
  readonly #failures: FailureLog;
  readonly #ownsFailures: boolean;
  readonly #leakGuard: KeyLeakGuard | undefined;
  readonly #eventSalt: Uint8Array | undefined;
  readonly #policies: PolicyCatalog;
  readonly #sealer: SecretSealer | undefined;
  readonly #onEvent: KeyEventHook | undefined;
  readonly #onEvents: KeyEventsHook | undefined;
  readonly #pacer: Pacer;

  readonly #usage: KeyUsageCounter | undefined;

  constructor(options: KeyServiceOptions) {
    assertPrefix(options.prefix);
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#principals = options.principals;
    this.#prefix = options.prefix;
    this.#cache = new ChangeCache<CachedKey>({ maxEntries: options.cacheMaxEntries ?? 100_000, idOf: (key) => key.id });
    this.#cacheMaxAgeMs = options.cacheMaxAgeMs ?? 300_000;
    this.#unknownMs = options.unknownCacheMs ?? 10_000;
    this.#unknown = new ChangeCache<true>({ maxEntries: this.#unknownMs > 0 ? (options.unknownCacheMaxEntries ?? 10_000) : 0 });
    this.#ownsFailures = options.failures === undefined;
    this.#failures = options.failures ?? new FailureLog({ store: options.store, ctx: options.ctx });
    this.#leakGuard = options.leakGuard;
    this.#eventSalt = options.eventSalt;
    this.#policies = options.policies ?? presetCatalog();
    this.#sealer = options.sealer;
    this.#onEvent = options.onEvent;
    this.#onEvents = options.onEvents;
    this.#pacer = new Pacer(options.rotationShare ?? 0.2, options.pacerClock);
    this.#usage = options.usage;
    this.#unsubscribe = followChanges((channel, listener) => this.#store.subscribe(channel, listener), this.#cache, {
      byId: [KEYS_CHANNEL],
      all: [PRINCIPALS_CHANNEL],
    });
  }

  /** Stops following the change feed (and writes the failure summaries of its own failure log, if it has one). */
  close(): void {
    this.#unsubscribe();
    if (this.#ownsFailures) void this.#failures.close().catch(() => undefined);
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
    const governing = await this.#governing(data.policy ?? null, owner);
    const { row, secret } = this.#issue({
      principal: owner.id,
      name: data.name,
      scopes: [...new Set(data.scopes)],
      expiresAt,
      metadata: JSON.stringify(data.metadata ?? {}),
      policy: data.policy ?? null,
      governing,
      predecessor: null,
      now,
      actor: meta.actor,
      binding: data.binding ? JSON.stringify(data.binding) : null,
    });
    await this.#insert(tx, row);
    const scopes = JSON.parse(row.scopes) as string[];
    await recordExposure(tx, this.#ctx, meta, { type: 'api_key', id: row.id }, 'created');
    await appendEvent(
      tx,
      this.#ctx,
      {
        type: 'key.created',
        target: row.id,
        outcome: 'success',
        data: { principal: owner.id, name: row.name, scopes, expiresAt: iso(expiresAt), ...this.#fingerprint('fingerprint', secret) },
      },
      meta,
    );
    return { key: this.#view(row, now), secret };
  }

  /** `{ [field]: 'hmac-sha256:…' }` of a new secret for its event, or nothing without an event salt. */
  #fingerprint<F extends string>(field: F, secret: string): { [K in F]?: string } {
    return (this.#eventSalt ? { [field]: credentialFingerprint(secret, this.#eventSalt) } : {}) as { [K in F]?: string };
  }

  /** The policy a key follows: the one it names, else its owner's, else the deployment default — at its current version. */
  async #governing(explicit: string | null, owner: Principal): Promise<PolicyVersion> {
    const name = explicit ?? owner.policy ?? this.#policies.defaultName;
    await this.#policies.ensure?.(name);
    return this.#policies.current(name);
  }

  /** A new key's row and secret (not yet written). */
  /**
   * The successor of `row`: the same owner, scopes, expiry, metadata, policy and binding (where
   * it may be used from), recording its predecessor — what a rotation and a leak response issue.
   */
  #successor(row: KeyRow, o: { name: string; governing: PolicyVersion; now: number; actor: string | null }): { row: KeyRow; secret: string } {
    return this.#issue({
      principal: row.principal_id,
      name: o.name,
      scopes: JSON.parse(row.scopes) as string[],
      expiresAt: row.expires_at === null ? null : Number(row.expires_at),
      metadata: row.metadata,
      policy: row.policy,
      governing: o.governing,
      predecessor: row.id,
      now: o.now,
      actor: o.actor,
      binding: row.binding ?? null,
    });
  }

  #issue(input: {
    principal: string;
    name: string;
    scopes: readonly string[];
    expiresAt: number | null;
    metadata: string;
    policy: string | null;
    governing: PolicyVersion;
    predecessor: string | null;
    now: number;
    actor: string | null;
    binding: string | null;
  }): { row: KeyRow; secret: string } {
    const secret = generateSecret(this.#prefix, this.#ctx);
    const display = secretDisplay(parseSecret(secret));
    const { policy, version } = input.governing;
    const row: KeyRow = {
      id: newId('key', this.#ctx),
      principal_id: input.principal,
      name: input.name,
      prefix: this.#prefix,
      digest: secretDigest(secret),
      start: display.start,
      last4: display.last4,
      scopes: JSON.stringify(input.scopes),
      status: 'active',
      created_at: input.now,
      created_by: input.actor,
      expires_at: input.expiresAt,
      revoked_at: null,
      metadata: input.metadata,
      policy: input.policy,
      policy_name: policy.name,
      policy_version: version,
      predecessor_id: input.predecessor,
      rotate_at: policy.keyRotationInterval === null ? null : input.now + policy.keyRotationInterval * 1000,
      deadline_at: policy.keyMaxAge === null ? null : input.now + policy.keyMaxAge * 1000,
      deadline: policy.deadline,
      grace_ends_at: null,
      pickup: null,
      pickup_by: 'holder',
      flagged_at: null,
      binding: input.binding,
    };
    return { row, secret };
  }

  async #insert(tx: Transaction, row: KeyRow): Promise<void> {
    await this.#insertMany(tx, [row]);
  }

  /** Writes new keys' rows, up to {@link INSERT_BATCH} per statement (one round trip each on PostgreSQL). */
  async #insertMany(tx: Transaction, rows: readonly KeyRow[]): Promise<void> {
    for (let at = 0; at < rows.length; at += INSERT_BATCH) {
      const batch = rows.slice(at, at + INSERT_BATCH);
      await tx.run(
        `INSERT INTO api_keys (id, principal_id, name, prefix, digest, start, last4, scopes, status, created_at, created_by, expires_at, revoked_at, metadata,
           policy, policy_name, policy_version, predecessor_id, rotate_at, deadline_at, deadline, grace_ends_at, pickup, pickup_by, flagged_at, binding)
         VALUES ${batch.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        batch.flatMap((row) => [
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
          row.policy,
          row.policy_name,
          row.policy_version,
          row.predecessor_id,
          row.rotate_at,
          row.deadline_at,
          row.deadline,
          row.grace_ends_at,
          row.pickup,
          row.pickup_by ?? 'holder',
          row.flagged_at,
          row.binding ?? null,
        ]),
      );
    }
  }

  /** The policy version `row` was issued under (or, for a key older than stored policies, what it would follow now). */
  async #policyOf(row: KeyRow, owner: Principal): Promise<PolicyVersion> {
    if (row.policy_name !== null && row.policy_version !== null) {
      await this.#policies.ensure?.(row.policy_name, Number(row.policy_version));
      const found = this.#policies.at(row.policy_name, Number(row.policy_version));
      if (found) return found;
    }
    return this.#governing(row.policy, owner);
  }

  /**
   * Rotates a key: issues its successor at once (same name, owner, scopes, expiry, metadata and
   * named policy, at that policy's current version; it records its predecessor) and puts the key
   * into `rotating` until `graceSeconds` from now (default: the policy's `keyRotationGrace`, also
   * the most it allows). Only an `active` key that still verifies can be rotated (`ERR_KEY_STATE`
   * otherwise, naming the successor when it was already rotated); a grace longer than the policy
   * allows is `ERR_VALIDATION`. Either way nothing changes.
   */
  async rotate(id: string, options: { graceSeconds?: number; by: RotatedBy }, meta: RequestMeta): Promise<Rotation> {
    return this.#store.transaction(async (tx) => this.rotateIn(tx, await keyRow(tx, id), options, meta));
  }

  /** Same as {@link rotate}, inside a caller's transaction, given the key's row as read there. */
  async rotateIn(
    tx: Transaction,
    row: KeyRow,
    options: { graceSeconds?: number; by: RotatedBy; owners?: Map<string, Promise<Principal | undefined>> },
    meta: RequestMeta,
  ): Promise<Rotation> {
    const now = this.#ctx.now().getTime();
    if (row.status === 'rotating') {
      const successor = await tx.get<{ id: string }>('SELECT id FROM api_keys WHERE predecessor_id = ? ORDER BY id DESC LIMIT 1', [row.id]);
      throw new KeyturnError('ERR_KEY_STATE', `the key was already rotated; its successor is ${successor?.id ?? 'unknown'}`, {
        details: { state: row.status, action: 'rotate', ...(successor ? { successor: successor.id } : {}) },
      });
    }
    // A caller rotating several keys in one transaction may share one read of each owner (`owners`).
    let owning = options.owners?.get(row.principal_id);
    if (!owning) {
      owning = this.#principals.byId(row.principal_id, tx);
      options.owners?.set(row.principal_id, owning);
    }
    const plan = await this.#planRotation(row, () => owning, options.graceSeconds, now);
    // Conditional on `active`: of two concurrent rotations (two nodes, a retry) exactly one wins.
    const changed = await tx.run("UPDATE api_keys SET status = 'rotating', grace_ends_at = ?, rotate_at = NULL WHERE id = ? AND status = 'active'", [plan.graceEndsAt, row.id]);
    if (changed.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the key changed concurrently; try again');
    const [done] = await this.#recordRotations(tx, await this.#issueSuccessors([plan], options.by, meta, now), options.by, meta, now);
    return { key: this.#view(done!.next, now), secret: done!.secret, predecessor: done!.predecessor };
  }

  /**
   * Checks that `row` may be rotated now (before anything is written): an `active` key that still
   * verifies, its owner active, a grace within its policy's. Throws the refusal otherwise.
   */
  async #planRotation(row: KeyRow, owning: () => Promise<Principal | undefined> | Principal | undefined, graceSeconds: number | undefined, now: number): Promise<PlannedRotation> {
    transition(API_KEY_LIFECYCLE, row.status, 'rotate');
    if (this.#endOf(row, now) <= now) throw new KeyturnError('ERR_KEY_STATE', 'an expired key cannot be rotated; create a new one', { details: { state: 'expired', action: 'rotate' } });
    const owner = await owning();
    if (!owner || !isLive(PRINCIPAL_LIFECYCLE, owner.status)) throw new KeyturnError('ERR_PRINCIPAL_INACTIVE', `owner is ${owner?.status ?? 'missing'}`);
    const current = await this.#policyOf(row, owner);
    const allowed = current.policy.keyRotationGrace;
    const grace = graceSeconds ?? allowed;
    if (!Number.isInteger(grace) || grace < 0 || grace > allowed) {
      throw new KeyturnError('ERR_VALIDATION', `grace: at most ${allowed} seconds under policy ${current.policy.name} (version ${current.version})`);
    }
    return { row, owner, graceEndsAt: now + grace * 1000 };
  }

  /** The successors of rotations that won their conditional update (secrets sealed for pick-up when the scheduler or an offboarding rotates). */
  async #issueSuccessors(planned: readonly PlannedRotation[], by: RotatedBy, meta: RequestMeta, now: number): Promise<IssuedRotation[]> {
    const sealed = by === 'schedule' || by === 'offboarding';
    if (sealed && !this.#sealer) throw new KeyturnError('ERR_CONFIG', `${by === 'schedule' ? 'scheduled rotation' : 'offboarding'} needs a sealer for successors`);
    const issued: IssuedRotation[] = [];
    for (const plan of planned) {
      const governing = await this.#governing(plan.row.policy, plan.owner);
      const { row: next, secret } = this.#successor(plan.row, { name: plan.row.name, governing, now, actor: meta.actor });
      if (sealed) {
        next.pickup = this.#sealer!.seal(secret, next.id);
        // A person who saw the old key left: they could present it, so only an administrator collects the new one.
        next.pickup_by = by === 'offboarding' ? 'admin' : 'holder';
      }
      issued.push({ ...plan, next, secret, governing });
    }
    return issued;
  }

  /**
   * Writes rotations whose predecessors are already `rotating` (in `tx`): the successors' rows in
   * multi-row inserts, exposures, one `key.rotated` event each (appended together), a change
   * notification per predecessor, and the owners' webhooks — a constant number of statements for
   * a chunk of keys when no exposure is recorded (the scheduler's case), not a few per key.
   */
  async #recordRotations(
    tx: Transaction,
    issued: readonly IssuedRotation[],
    by: RotatedBy,
    meta: RequestMeta,
    now: number,
  ): Promise<{ next: KeyRow; secret: string; predecessor: KeyView }[]> {
    if (issued.length === 0) return [];
    await this.#insertMany(
      tx,
      issued.map((r) => r.next),
    );
    for (const r of issued) await recordExposure(tx, this.#ctx, meta, { type: 'api_key', id: r.next.id }, 'created');
    await appendEvents(
      tx,
      this.#ctx,
      issued.map((r) => ({
        type: 'key.rotated' as const,
        target: r.row.id,
        outcome: 'success' as const,
        reason: by,
        data: {
          successor: r.next.id,
          graceEndsAt: new Date(r.graceEndsAt).toISOString(),
          policy: r.governing.policy.name,
          policyVersion: r.governing.version,
          ...this.#fingerprint('successorFingerprint', r.secret),
        },
      })),
      meta,
    );
    for (const r of issued) tx.notify(KEYS_CHANNEL, r.row.id);
    const done = issued.map((r) => ({
      next: r.next,
      secret: r.secret,
      predecessor: this.#view({ ...r.row, status: 'rotating', grace_ends_at: r.graceEndsAt, rotate_at: null }, now),
    }));
    await this.#tell(
      tx,
      done.map((d) => ({
        type: 'key.rotated' as const,
        key: d.predecessor,
        data: { by, successor: d.next.id, graceEndsAt: d.predecessor.graceEndsAt, awaitingPickup: d.next.pickup !== null },
      })),
    );
    return done;
  }

  /** Hands key events to the hooks: all at once when a batch hook is set, else one by one. */
  async #tell(tx: Transaction, events: readonly KeyLifecycleEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (this.#onEvents) await this.#onEvents(tx, events);
    else if (this.#onEvent) for (const event of events) await this.#onEvent(tx, event);
  }

  /**
   * `POST /v1/keys/self/rotate`: the holder presents its key and gets the successor once. An
   * `active` key is rotated now (grace: the policy's). A key the scheduler rotated hands over its
   * sealed successor, once (`key.successor_picked_up`). Any other call with a `rotating` key — a
   * retry after a lost answer — is `ERR_KEY_STATE` naming the successor's id: never a second live
   * successor. A key that does not verify is `ERR_INVALID_TOKEN` (nothing changes).
   */
  async selfRotate(presented: string, meta: RequestMeta): Promise<Rotation> {
    const checked = await this.verify(presented, meta);
    if (!checked.valid) throw new KeyturnError('ERR_INVALID_TOKEN', `the key does not verify (${checked.reason})`);
    const selfMeta: RequestMeta = { ...meta, actor: checked.key.principal, actorKind: checked.key.principalKind };
    return this.#store.transaction(async (tx) => {
      const row = await keyRow(tx, checked.key.id);
      const now = this.#ctx.now().getTime();
      if (row.status !== 'rotating') return this.rotateIn(tx, row, { by: 'self' }, selfMeta);
      if (this.#endOf(row, now) <= now) throw new KeyturnError('ERR_INVALID_TOKEN', 'the key does not verify (revoked)');
      const successor = await tx.get<KeyRow>('SELECT * FROM api_keys WHERE predecessor_id = ? ORDER BY id DESC LIMIT 1', [row.id]);
      if (successor && successor.pickup !== null && successor.pickup_by === 'admin') {
        throw new KeyturnError(
          'ERR_KEY_STATE',
          `the key was rotated because someone who must not hold its successor may know it; an administrator hands out its successor ${successor.id} (keyturn keys reveal-successor ${successor.id})`,
          { details: { state: row.status, action: 'rotate', successor: successor.id, pickup: 'admin' } },
        );
      }
      if (successor && successor.pickup !== null && this.#sealer) {
        // Conditional: of two concurrent pick-ups exactly one gets the secret.
        const taken = await tx.run('UPDATE api_keys SET pickup = NULL WHERE id = ? AND pickup IS NOT NULL', [successor.id]);
        if (taken.changes === 1) {
          const secret = this.#sealer.open(successor.pickup, successor.id);
          await appendEvent(tx, this.#ctx, { type: 'key.successor_picked_up', target: successor.id, outcome: 'success', data: { predecessor: row.id } }, selfMeta);
          return { key: this.#view({ ...successor, pickup: null }, now), secret, predecessor: this.#view(row, now) };
        }
      }
      throw new KeyturnError('ERR_KEY_STATE', `the key was already rotated; its successor is ${successor?.id ?? 'unknown'} (its secret was shown once)`, {
        details: { state: row.status, action: 'rotate', ...(successor ? { successor: successor.id } : {}) },
      });
    });
  }

  /**
   * An administrator collects the sealed secret of successor `id` (issued by the scheduler, an
   * offboarding or the leak response), once: `key.successor_revealed`, and the administrator is
   * recorded as exposed to it. A successor with nothing sealed (collected already, or never
   * sealed) is `ERR_KEY_STATE`; nothing changes.
   */
  async revealSuccessor(id: string, meta: RequestMeta): Promise<{ key: KeyView; secret: string }> {
    return this.#store.transaction(async (tx) => {
      const row = await keyRow(tx, id);
      const now = this.#ctx.now().getTime();
      if (row.pickup === null || !this.#sealer) {
        throw new KeyturnError('ERR_KEY_STATE', `key ${id} has no sealed secret waiting (collected already, or it was shown when it was issued)`, {
          details: { state: row.status, action: 'reveal' },
        });
      }
      if (!isLive(API_KEY_LIFECYCLE, row.status)) throw new KeyturnError('ERR_KEY_STATE', `a ${row.status} key's secret is not handed out`, { details: { state: row.status, action: 'reveal' } });
      // Conditional: of two concurrent reveals exactly one gets the secret.
      const taken = await tx.run('UPDATE api_keys SET pickup = NULL WHERE id = ? AND pickup IS NOT NULL', [id]);
      if (taken.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the secret was collected concurrently');
      const secret = this.#sealer.open(row.pickup, row.id);
      await recordExposure(tx, this.#ctx, meta, { type: 'api_key', id }, 'revealed');
      await appendEvent(tx, this.#ctx, { type: 'key.successor_revealed', target: id, outcome: 'success', data: { predecessor: row.predecessor_id, pickup: row.pickup_by ?? 'holder' } }, meta);
      return { key: this.#view({ ...row, pickup: null }, now), secret };
    });
  }

  /**
   * The leak response's successor: for a leaked key it has just suspended or revoked (in `tx`),
   * issues a successor with the same owner, scopes, expiry and policy, its secret sealed for an
   * administrator only (`pickup: admin`: whoever found the leaked key must not be able to collect
   * it). Its name is the key's, or, while the leaked key is suspended (and may be unsuspended as a
   * false alarm), `<name> (successor of <id>)`. Answers the existing successor's id when the key
   * already has one, and `null` when none is issued (its owner is not active, it has expired, or
   * there is no sealer).
   */
  async issueLeakSuccessorIn(tx: Transaction, id: string, meta: RequestMeta): Promise<string | null> {
    const row = await keyRow(tx, id);
    const now = this.#ctx.now().getTime();
    if (row.status !== 'suspended' && row.status !== 'revoked') return null;
    const existing = await tx.get<{ id: string }>('SELECT id FROM api_keys WHERE predecessor_id = ? ORDER BY id DESC LIMIT 1', [row.id]);
    if (existing) return existing.id;
    if (!this.#sealer) return null;
    if (row.expires_at !== null && Number(row.expires_at) <= now) return null;
    const owner = await this.#principals.byId(row.principal_id, tx);
    if (!owner || !isLive(PRINCIPAL_LIFECYCLE, owner.status)) return null;
    const governing = await this.#governing(row.policy, owner);
    const taken = await tx.get<{ id: string }>("SELECT id FROM api_keys WHERE principal_id = ? AND name = ? AND status IN ('active', 'suspended')", [owner.id, row.name]);
    const { row: next, secret } = this.#successor(row, { name: taken ? `${row.name} (successor of ${row.id})` : row.name, governing, now, actor: null });
    next.pickup = this.#sealer.seal(secret, next.id);
    next.pickup_by = 'admin';
    await this.#insert(tx, next);
    await appendEvent(
      tx,
      this.#ctx,
      { type: 'key.successor_issued', target: row.id, outcome: 'success', reason: 'leak', data: { successor: next.id, pickup: 'admin', policy: governing.policy.name, policyVersion: governing.version } },
      meta,
    );
    return next.id;
  }

  /**
   * The keys' part of offboarding a person: every key they hold that still matters is revoked
   * (`revoke_key`); every key of someone else they created or revealed that a rotation can replace
   * now (active, still verifying, its owner active) is rotated with its policy's grace, the
   * successor sealed for an administrator (`rotate_key`).
   */
  offboarding(): OffboardingParticipant {
    return {
      actions: ['revoke_key', 'rotate_key'],
      plan: async (db, subject, now) => {
        const held = await db.all<{ id: string }>("SELECT id FROM api_keys WHERE principal_id = ? AND status IN ('active', 'rotating', 'suspended') ORDER BY id", [subject.principal.id]);
        const exposed = subject.exposures.filter((e) => e.type === 'api_key').map((e) => e.id);
        const owners = new Map<string, PrincipalStanding | undefined>();
        const rotate: string[] = [];
        for (let i = 0; i < exposed.length; i += 500) {
          const chunk = exposed.slice(i, i + 500);
          const rows = await db.all<KeyRow>(`SELECT * FROM api_keys WHERE status = 'active' AND principal_id <> ? AND id IN (${chunk.map(() => '?').join(', ')})`, [subject.principal.id, ...chunk]);
          for (const row of rows) {
            if (this.#endOf(row, now) <= now) continue;
            if (!owners.has(row.principal_id)) owners.set(row.principal_id, await principalStanding(db, row.principal_id));
            const owner = owners.get(row.principal_id);
            if (owner && isLive(PRINCIPAL_LIFECYCLE, owner.status)) rotate.push(row.id);
          }
        }
        return [...held.map((r) => ({ action: 'revoke_key' as const, target: r.id })), ...rotate.map((id) => ({ action: 'rotate_key' as const, target: id }))];
      },
      apply: async (tx, step, _subject, meta) => {
        if (step.action === 'revoke_key') {
          const before = await keyRow(tx, step.target);
          if (before.status === 'revoked') return { outcome: 'skipped' as const, detail: { reason: 'already revoked' } as Record<string, string | null> };
          await this.revokeIn(tx, step.target, meta, 'offboarding');
          return { outcome: 'done' as const, detail: { previous: before.status } as Record<string, string | null> };
        }
        const rotation = await this.rotateIn(tx, await keyRow(tx, step.target), { by: 'offboarding' }, meta);
        return { outcome: 'done' as const, detail: { successor: rotation.key.id, graceEndsAt: rotation.predecessor.graceEndsAt } as Record<string, string | null> };
      },
    };
  }

  /**
   * Scheduled rotation: rotates up to `limit` active keys whose rotation is due, oldest first, in
   * transactions of `ROTATION_CHUNK` keys (successors sealed for pick-up), pausing between them
   * (`rotationShare`, the work a chunk triggers afterwards counted as its own) so that verification
   * is not starved while 100,000 keys come due at once.
   * A chunk is a constant number of statements whatever its size (its rows and their owners read
   * at once, one conditional update claiming every key, multi-row inserts of the successors and
   * of the events): on PostgreSQL a few round trips per 100 keys, not three or more per key.
   * Each key is rotated once even when several nodes run this at once: the conditional update
   * (`… AND status = 'active' RETURNING id`) gives each key to one of them, the others skip it; a
   * key refused for an expected reason writes nothing, so its chunk still commits the others. A
   * due key that no longer verifies (past a hard deadline or expiry) is taken off the schedule.
   */
  async rotateDue(limit: number): Promise<{ rotated: number; skipped: number; more: boolean }> {
    const now = this.#ctx.now().getTime();
    const due = await this.#store.all<{ id: string }>(
      "SELECT id FROM api_keys WHERE status = 'active' AND rotate_at IS NOT NULL AND rotate_at <= ? ORDER BY rotate_at, id LIMIT ?",
      [now, limit],
    );
    // Counted per attempt: a transaction the store runs again must not count twice. Bounded share:
    // verification (and everything else) gets the event loop for the rest, the work a chunk
    // triggers afterwards counted as the chunk's.
    const ids = due.map((d) => d.id);
    const done = await this.#pacer.runChunks(ids, ROTATION_CHUNK, (chunk) => this.#store.transaction((tx) => this.#rotateChunk(tx, chunk, now)));
    return { ...done, more: due.length === limit };
  }

  /** One transaction of scheduled rotations (see {@link rotateDue}). */
  async #rotateChunk(tx: Transaction, ids: readonly string[], now: number): Promise<{ rotated: number; skipped: number }> {
    const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
    const rows = new Map((await tx.all<KeyRow>(`SELECT * FROM api_keys WHERE id IN (${marks(ids.length)})`, ids)).map((row) => [row.id, row]));
    let skipped = 0;
    const expired: string[] = [];
    const candidates: KeyRow[] = [];
    for (const id of ids) {
      const row = rows.get(id);
      // Gone, rotated meanwhile (another node), or rescheduled: not this run's.
      if (!row || row.status !== 'active' || row.rotate_at === null || Number(row.rotate_at) > now) skipped++;
      else if (this.#endOf(row, now) <= now) expired.push(id);
      else candidates.push(row);
    }
    const owners = await this.#principals.byIds(
      candidates.map((row) => row.principal_id),
      tx,
    );
    const planned: PlannedRotation[] = [];
    for (const row of candidates) {
      try {
        planned.push(await this.#planRotation(row, () => owners.get(row.principal_id), undefined, now));
      } catch (err) {
        if (!(err instanceof KeyturnError) || !EXPECTED_REFUSALS.includes(err.code)) throw err;
        skipped++;
      }
    }
    if (expired.length > 0) await tx.run(`UPDATE api_keys SET rotate_at = NULL WHERE status = 'active' AND id IN (${marks(expired.length)})`, expired);
    if (planned.length === 0) return { rotated: 0, skipped };
    // One conditional update claims the chunk: a key another node rotated meanwhile is not
    // `active` any more (on PostgreSQL the update waits for that node's commit, then re-reads), so
    // it is not returned here and gets no second successor.
    const ends = new Set(planned.map((p) => p.graceEndsAt));
    const grace = ends.size === 1 ? '?' : `CASE id ${planned.map(() => 'WHEN ? THEN CAST(? AS BIGINT)').join(' ')} END`;
    const claimed = await tx.all<{ id: string }>(
      `UPDATE api_keys SET status = 'rotating', grace_ends_at = ${grace}, rotate_at = NULL WHERE status = 'active' AND id IN (${marks(planned.length)}) RETURNING id`,
      [...(ends.size === 1 ? [planned[0]!.graceEndsAt] : planned.flatMap((p) => [p.row.id, p.graceEndsAt])), ...planned.map((p) => p.row.id)],
    );
    const won = new Set(claimed.map((c) => c.id));
    const winners = planned.filter((p) => won.has(p.row.id));
    await this.#recordRotations(tx, await this.#issueSuccessors(winners, 'schedule', SYSTEM, now), 'schedule', SYSTEM, now);
    return { rotated: winners.length, skipped: skipped + planned.length - winners.length };
  }

  /**
   * Ends what is past its time, up to `limit` of each: a rotating key at the end of its grace is
   * `retired` under a hard deadline (`key.retired`; a successor nobody collected loses its sealed
   * secret) and reported under a soft one; a key past its maximum age is reported once
   * (`key.deadline_missed`) — under a hard deadline it stopped verifying then, by itself.
   */
  async settleDeadlines(limit: number): Promise<{ retired: number; flagged: number; more: boolean }> {
    const now = this.#ctx.now().getTime();
    let retired = 0;
    let flagged = 0;
    const ending = await this.#store.all<KeyRow>(
      "SELECT * FROM api_keys WHERE status = 'rotating' AND grace_ends_at <= ? AND (deadline = 'hard' OR flagged_at IS NULL) ORDER BY grace_ends_at, id LIMIT ?",
      [now, limit],
    );
    for (const row of ending) {
      await this.#store.transaction(async (tx) => {
        const successor = await tx.get<{ id: string }>('SELECT id FROM api_keys WHERE predecessor_id = ? ORDER BY id DESC LIMIT 1', [row.id]);
        if (row.deadline === 'hard') {
          const step = transition(API_KEY_LIFECYCLE, row.status, 'retire');
          const changed = await tx.run('UPDATE api_keys SET status = ? WHERE id = ? AND status = ?', [step.to, row.id, row.status]);
          if (changed.changes !== 1) return;
          if (successor) await tx.run('UPDATE api_keys SET pickup = NULL WHERE id = ?', [successor.id]);
          await appendEvent(tx, this.#ctx, { type: 'key.retired', target: row.id, outcome: 'success', data: { successor: successor?.id ?? null } }, SYSTEM);
          tx.notify(KEYS_CHANNEL, row.id);
          retired++;
        } else if (await this.#flag(tx, row, now, 'grace', Number(row.grace_ends_at))) flagged++;
      });
    }
    const overdue = await this.#store.all<KeyRow>(
      "SELECT * FROM api_keys WHERE deadline_at IS NOT NULL AND flagged_at IS NULL AND deadline_at <= ? AND status IN ('active', 'rotating') ORDER BY deadline_at, id LIMIT ?",
      [now, limit],
    );
    for (const row of overdue) {
      await this.#store.transaction(async (tx) => {
        if (await this.#flag(tx, row, now, 'max_age', Number(row.deadline_at))) flagged++;
      });
    }
    return { retired, flagged, more: ending.length === limit || overdue.length === limit };
  }

  async #flag(tx: Transaction, row: KeyRow, now: number, reason: 'grace' | 'max_age', deadline: number): Promise<boolean> {
    const changed = await tx.run('UPDATE api_keys SET flagged_at = ? WHERE id = ? AND flagged_at IS NULL', [now, row.id]);
    if (changed.changes !== 1) return false;
    await appendEvent(
      tx,
      this.#ctx,
      {
        type: 'key.deadline_missed',
        target: row.id,
        outcome: 'success',
        reason,
        data: { deadline: new Date(deadline).toISOString(), enforced: row.deadline, policy: row.policy_name ?? '', policyVersion: Number(row.policy_version ?? 0) },
      },
      SYSTEM,
    );
    return true;
  }

  /**
   * Tells owners, once per key per deadline, what is coming within `windowMs`: `key.rotation_due`
   * for an active key whose rotation is due by then, `key.expiring` for a live key whose expiry or
   * maximum age comes by then (or has come). Each notice is claimed by a conditional update that
   * stores the deadline told of, so with several nodes (or a retry) it is sent once; a new
   * deadline (a key rotated early keeps none: its successor has its own) is told again. Up to
   * `limit` of each per call.
   */
  async noticeDue(limit: number, windowMs: number): Promise<{ noticed: number; more: boolean }> {
    if (!this.#onEvent) return { noticed: 0, more: false };
    const now = this.#ctx.now().getTime();
    const horizon = now + windowMs;
    let noticed = 0;
    // Only rotations still to come: a key already due is rotated by this very run, and its owner
    // hears `key.rotated` instead. (Noticing those too sent 100,000 notices before rotating 100,000
    // keys due at once, and each pass rescanned the keys noticed before it.)
    const due = await this.#store.all<KeyRow>(
      "SELECT * FROM api_keys WHERE status = 'active' AND rotate_at IS NOT NULL AND rotate_at > ? AND rotate_at <= ? AND (due_noticed_at IS NULL OR due_noticed_at <> rotate_at) ORDER BY rotate_at, id LIMIT ?",
      [now, horizon, limit],
    );
    for (const row of due) {
      await this.#store.transaction(async (tx) => {
        const claimed = await tx.run(
          "UPDATE api_keys SET due_noticed_at = rotate_at WHERE id = ? AND status = 'active' AND rotate_at = ? AND (due_noticed_at IS NULL OR due_noticed_at <> rotate_at)",
          [row.id, row.rotate_at],
        );
        if (claimed.changes !== 1) return;
        const view = this.#view(row, now);
        const endpoints = await this.#onEvent!(tx, { type: 'key.rotation_due', key: view, data: { dueAt: view.rotateAt, policy: row.policy_name } });
        await appendEvent(tx, this.#ctx, { type: 'key.rotation_due', target: row.id, outcome: 'success', data: { dueAt: view.rotateAt!, endpoints } }, SYSTEM);
        noticed++;
      });
    }
    // Not a key this run rotates anyway (due now: its successor has its own end), nor one already
    // rotated (in its grace: its owner heard `key.rotated`, with the grace's end).
    const ending = await this.#store.all<KeyRow>(
      `SELECT * FROM api_keys WHERE status = 'active' AND expiry_noticed_at IS NULL AND (rotate_at IS NULL OR rotate_at > ?)
         AND ((expires_at IS NOT NULL AND expires_at <= ?) OR (deadline_at IS NOT NULL AND deadline_at <= ?))
       ORDER BY id LIMIT ?`,
      [now, horizon, horizon, limit],
    );
    for (const row of ending) {
      const ends = [row.expires_at, row.deadline_at].filter((v): v is number => v !== null).map(Number);
      const at = Math.min(...ends);
      const why = row.expires_at !== null && Number(row.expires_at) === at ? 'expiry' : 'max_age';
      await this.#store.transaction(async (tx) => {
        const claimed = await tx.run('UPDATE api_keys SET expiry_noticed_at = ? WHERE id = ? AND expiry_noticed_at IS NULL', [at, row.id]);
        if (claimed.changes !== 1) return;
        const view = this.#view(row, now);
        const endpoints = await this.#onEvent!(tx, {
          type: 'key.expiring',
          key: view,
          data: { at: new Date(at).toISOString(), why, enforced: why === 'expiry' ? 'hard' : row.deadline, passed: at <= now },
        });
        await appendEvent(tx, this.#ctx, { type: 'key.expiring', target: row.id, outcome: 'success', reason: why, data: { at: new Date(at).toISOString(), endpoints } }, SYSTEM);
        noticed++;
      });
    }
    return { noticed, more: due.length === limit || ending.length === limit };
  }

  /** How many live keys each version of `policy` governs (for `policies show`). */
  async policyCounts(policy: string): Promise<{ kind: 'api_key'; version: number; count: number }[]> {
    const rows = await this.#store.all<{ version: number | string; n: number | string }>(
      "SELECT policy_version AS version, COUNT(*) AS n FROM api_keys WHERE policy_name = ? AND status IN ('active', 'rotating', 'suspended') GROUP BY policy_version",
      [policy],
    );
    return rows.map((r) => ({ kind: 'api_key' as const, version: Number(r.version), count: Number(r.n) }));
  }

  /**
   * When a key stops verifying, in ms (`Infinity`: never): the earliest of its expiry and, under a
   * hard deadline, its maximum age and (while rotating) its grace end.
   */
  #endOf(row: KeyRow, _now: number): number {
    return this.#end(row).at;
  }

  #end(row: KeyRow): { at: number; reason: 'expired' | 'revoked' } {
    let at = row.expires_at === null ? Infinity : Number(row.expires_at);
    let reason: 'expired' | 'revoked' = 'expired';
    if (row.deadline === 'hard' && row.deadline_at !== null) at = Math.min(at, Number(row.deadline_at));
    if (row.deadline === 'hard' && row.status === 'rotating' && row.grace_ends_at !== null && Number(row.grace_ends_at) < at) {
      at = Number(row.grace_ends_at);
      reason = 'revoked';
    }
    return { at, reason };
  }

  /** The rotation part of a verification answer, or `undefined` for a key with no schedule, deadline or grace. */
  #rotationState(row: KeyRow): KeyRotationState | undefined {
    if (row.status !== 'rotating' && row.rotate_at === null && row.deadline_at === null) return undefined;
    const end = this.#end(row).at;
    const soft = row.deadline === 'soft' ? (row.status === 'rotating' ? row.grace_ends_at : row.deadline_at) : null;
    return Object.freeze({
      status: row.status === 'rotating' ? ('rotating' as const) : ('active' as const),
      dueAt: iso(row.status === 'rotating' ? null : row.rotate_at === null ? null : Number(row.rotate_at)),
      sunset: end === Infinity ? null : new Date(end).toISOString(),
      softDeadline: iso(soft === null ? null : Number(soft)),
    });
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
    const revoked = this.#view({ ...row, status: 'revoked', revoked_at: now }, now);
    await this.#onEvent?.(tx, { type: 'key.revoked', key: revoked, data: { previous: row.status, reason: reason ?? null } });
    return revoked;
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

  /**
   * Lifts a suspension: the key is `active` again. An active key is a no-op answer; others are
   * `ERR_KEY_STATE`. A key with an open leak finding is unsuspended only with `ackLeak: true`
   * (else `ERR_LEAK_UNACKNOWLEDGED`, nothing changed): the findings are then acknowledged by
   * the caller, recorded as a `leak.acknowledged` event in the same transaction.
   */
  async unsuspend(id: string, meta: RequestMeta, options: { readonly ackLeak?: boolean } = {}): Promise<KeyView> {
    return this.#store.transaction(async (tx) => {
      const row = await keyRow(tx, id);
      const now = this.#ctx.now().getTime();
      const step = transition(API_KEY_LIFECYCLE, row.status, 'unsuspend');
      if (!step.changed) return this.#view(row, now);
      const open = (await this.#leakGuard?.openFindings(tx, id)) ?? [];
      if (open.length > 0 && options.ackLeak !== true) {
        throw new KeyturnError('ERR_LEAK_UNACKNOWLEDGED', `key ${id} has ${open.length} open leak finding${open.length === 1 ? '' : 's'} (${open.join(', ')}); unsuspending it needs an explicit acknowledgement (ackLeak: true, or --ack-leak)`, {
          details: { findings: open },
        });
      }
      if (open.length > 0) await this.#leakGuard!.acknowledge(tx, id, open, meta);
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

  /** The principal `key` (or any credential) acts for, read in `db` (the leak response reads it in its transaction to tell the owner). */
  async ownerOf(key: Pick<KeyView, 'principal'>, db: Queryable = this.#store): Promise<Principal | undefined> {
    return this.#principals.byId(key.principal, db);
  }

  /**
   * Whether a key other than `exceptId` with `scope` works now (live, unexpired, its principal
   * active), read in `db`: the leak response suspends the last working admin key only with
   * policy consent.
   */
  async otherWorkingKeyWithScope(scope: string, exceptId: string, db: Queryable = this.#store): Promise<boolean> {
    const now = this.#ctx.now().getTime();
    // LIKE narrows to keys whose JSON scopes mention the scope; the parse below decides.
    const rows = await db.all<KeyRow>(
      "SELECT * FROM api_keys WHERE status IN ('active', 'rotating') AND id <> ? AND (expires_at IS NULL OR expires_at > ?) AND scopes LIKE ? ORDER BY id",
      [exceptId, now, `%${JSON.stringify(scope)}%`],
    );
    for (const row of rows) {
      if (!(JSON.parse(row.scopes) as string[]).includes(scope)) continue;
      const owner = await principalStanding(db, row.principal_id);
      if (owner && isLive(PRINCIPAL_LIFECYCLE, owner.status)) return true;
    }
    return false;
  }

  /**
   * Verifies a presented key. Hot path: checksum, SHA-256, one cache lookup. A failure is recorded
   * as a `key.verify_failed` event with the exact reason (never the key) before answering,
   * aggregated: the first of a burst in full, the rest in a summary (see `FailureLog`).
   */
  async verify(presented: string, meta: RequestMeta): Promise<Verification> {
    const result = await this.check(presented);
    if (!result.valid) await this.recordFailure('key.verify_failed', result, presented, meta);
    return result;
  }

  /**
   * Notes one successful use of key `id` from `sourceIp` (counted in memory, written per interval
   * as a usage record): callers that answered a key as valid call it. Synchronous, cheap.
   */
  noteUse(id: string, sourceIp: string | null | undefined): void {
    this.#usage?.note(id, sourceIp);
  }

  /** {@link verify} without the failure event: for callers that record their own. */
  async check(presented: string): Promise<Verification> {
    const parsed = tryParseSecret(presented);
    if (!parsed) return { valid: false, reason: 'malformed' };
    const digest = secretDigest(parsed.text);
    const now = this.#ctx.now().getTime();
    const cached = this.#cache.get(digest, now);
    if (cached) return this.#judge(cached, now);
    if (this.#unknown.get(digest, now)) return UNKNOWN;
    const generation = this.#cache.generation;
    const row = await this.#store.get<KeyRow>('SELECT * FROM api_keys WHERE digest = ?', [digest]);
    if (!row) {
      this.#unknown.set(digest, true, now + this.#unknownMs, now, this.#unknown.generation);
      return UNKNOWN;
    }
    const owner = await principalStanding(this.#store, row.principal_id);
    if (!owner) return { valid: false, reason: 'unknown' };
    if (!isLive(API_KEY_LIFECYCLE, row.status)) return { valid: false, reason: row.status === 'suspended' ? 'suspended' : 'revoked' };
    if (!isLive(PRINCIPAL_LIFECYCLE, owner.status)) return { valid: false, reason: 'principal_inactive' };
    const end = this.#end(row);
    const rotation = this.#rotationState(row);
    const entry: CachedKey = {
      id: row.id,
      expiresAt: end.at === Infinity ? null : end.at,
      endReason: end.reason,
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
          ...(rotation ? { rotation } : {}),
          ...(row.binding ? { binding: Object.freeze(JSON.parse(row.binding) as KeyBinding) } : {}),
        }),
      }),
    };
    this.#cache.set(digest, entry, now + this.#cacheMaxAgeMs, now, generation);
    return this.#judge(entry, now);
  }

  /**
   * Records a failed verification (`type` lets the admin gate record its own), aggregated by key,
   * reason and source network: the first of a burst is written in full, the rest are counted into
   * a summary. The target is the key's id only when the digest names a stored key.
   * Resolves to the id of the key presented, when it is one of ours (its holder may be told).
   */
  async recordFailure(
    type: 'key.verify_failed' | 'admin.auth_failed',
    result: Verification & { valid: false },
    presented: string,
    meta: RequestMeta,
  ): Promise<string | null> {
    const parsed = tryParseSecret(presented);
    // `unknown`: no stored key has this digest (a key's principal is never deleted), no lookup needed.
    const target = parsed && result.reason !== 'unknown' ? await this.#idOf(secretDigest(parsed.text)) : null;
    await this.#failures.record({ type, target, outcome: 'failure', reason: result.reason, data: parsed ? { prefix: parsed.prefix } : {} }, meta);
    return target;
  }

  /**
   * Records a use of a bound key from where it may not be used (`binding.tls_failed`, aggregated
   * like every failure): the key id, the reason (`network`, `missing_certificate`, …).
   */
  async recordBindingFailure(keyId: string, reason: string, meta: RequestMeta): Promise<void> {
    await this.#failures.record({ type: 'binding.tls_failed', target: keyId, outcome: 'failure', reason, data: { binding: 'api-key', at: 'keys.verify' } }, meta);
  }

  async #idOf(digest: string): Promise<string | null> {
    const row = await this.#store.get<{ id: string }>('SELECT id FROM api_keys WHERE digest = ?', [digest]);
    return row?.id ?? null;
  }

  /** Only live keys are cached: the answer, unless the key has expired since. */
  #judge(key: CachedKey, now: number): Verification {
    if (key.expiresAt !== null && key.expiresAt <= now) return { valid: false, reason: key.endReason };
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
      policy: row.policy ?? null,
      policyName: row.policy_name ?? null,
      policyVersion: row.policy_version == null ? null : Number(row.policy_version),
      predecessor: row.predecessor_id ?? null,
      rotateAt: iso(row.rotate_at == null ? null : Number(row.rotate_at)),
      deadlineAt: iso(row.deadline_at == null ? null : Number(row.deadline_at)),
      deadline: row.deadline ?? 'hard',
      graceEndsAt: iso(row.grace_ends_at == null ? null : Number(row.grace_ends_at)),
      ...(row.binding ? { binding: JSON.parse(row.binding) as KeyBinding } : {}),
    };
  }
}
