import { z } from 'zod';
import { appendEvent, SYSTEM, type RequestMeta } from '../audit/index.js';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { checkCursor, isIdOf, newId } from '../core/ids.js';
import { validate } from '../core/validate.js';
import { webhookMessage, type DeliveryAttempt, type EgressGuard, type Outbox, type OutboxMessageView, type OutboxStatus, type WebhookSigner } from '../jobs/index.js';
import type { PrincipalService } from '../principals/index.js';
import type { Queryable, Store, Transaction } from '../store/port.js';
import { newWebhookSecret, webhookHeaders } from './standard-webhooks.js';

/**
 * Signed webhooks to credential owners (Standard Webhooks): endpoints, each with a secret keyturn
 * makes and shows once, sealed at rest under the master key like a scheduled successor; the
 * fan-out of key events to the endpoints that asked for them, written to the durable outbox in the
 * transaction of the change; the delivery log per endpoint and replay. The `webhook_endpoints`
 * table is read and written only here.
 */

/** The events an endpoint can ask for. */
export const WEBHOOK_EVENT_TYPES = [
  'key.rotation_due',
  'key.rotated',
  'key.expiring',
  'key.revoked',
  'key.leaked',
  'client.secret_rotation_due',
  'client.secret_expiring',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The outbox topic of key webhooks (leak notifications to owners keep their own, see `fanOut`). */
export const WEBHOOK_TOPIC = 'webhook.endpoint';

/** How long a rotated endpoint secret still signs beside the new one (default). */
const DEFAULT_OVERLAP_MS = 86_400_000;

/** Seals a secret at rest (the master key's AES-256-GCM in the server; `associated` binds it to its row). */
export interface WebhookSecretSealer {
  seal(plaintext: string, associated: string): string;
  open(sealed: string, associated: string): string;
}

export const createWebhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2048),
  /** Principal id or name whose credentials' events are sent; none: every principal's. */
  owner: z.string().min(1).max(128).optional(),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).max(WEBHOOK_EVENT_TYPES.length).optional(),
});

/** An endpoint as shown: never its secret. */
export interface WebhookEndpointView {
  readonly id: string;
  /** The principal whose credentials' events it receives; `null`: every principal's. */
  readonly owner: string | null;
  readonly url: string;
  readonly events: readonly WebhookEventType[];
  readonly status: 'active' | 'removed';
  /** `api`: added by an admin; `principal`: a principal's `webhookUrl`, taken over for its leak notifications. */
  readonly origin: 'api' | 'principal';
  readonly createdAt: string;
  readonly secretRotatedAt: string | null;
  /** While a rotated secret still signs beside the new one: until when. */
  readonly previousSecretUntil: string | null;
  readonly removedAt: string | null;
  /** Whether deliveries to it get through (see {@link WebhookEndpointHealth}). */
  readonly health: WebhookEndpointHealth;
}

/**
 * An endpoint's health, from its delivery attempts: `down` from its first failed attempt (while
 * the outbox keeps retrying) until an attempt succeeds, `up` after a success, `unknown` before any
 * attempt. The first failure of an endpoint not down records `webhook.endpoint_down`, the first
 * success of a down one `webhook.endpoint_recovered`: once per transition, whatever the number of nodes.
 */
export interface WebhookEndpointHealth {
  readonly state: 'unknown' | 'up' | 'down';
  /** When it went into this state (`null`: `unknown`). */
  readonly since: string | null;
  /** Failed attempts since the last success. */
  readonly consecutiveFailures: number;
  /** The last failure while down: `HTTP <status>`, `timeout`, `unreachable`, … (never a URL, body or secret). */
  readonly lastError: string | null;
  /** HTTP status of the last failed attempt's answer, when there was one. */
  readonly lastStatus: number | null;
}

/** One event to fan out: what happened to which credential of which principal. Never a secret. */
export interface WebhookEvent {
  readonly type: WebhookEventType;
  /** The principal owning the credential (a key's owner, a client's). */
  readonly principal: string;
  /** The credential's id: a key id, or a client id for `client.*` (the `subject` of the body). */
  readonly subject: string;
  readonly data: Record<string, unknown>;
}

/** One delivery (an outbox message to one endpoint) and its log. */
export interface WebhookDelivery {
  readonly id: string;
  readonly endpoint: string;
  readonly event: string;
  readonly status: OutboxStatus;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly createdAt: string;
  readonly nextAttemptAt: string | null;
  readonly settledAt: string | null;
  readonly lastError: string | null;
  readonly log: readonly DeliveryAttempt[];
}

interface EndpointRow {
  id: string;
  owner_id: string | null;
  url: string;
  event_types: string;
  origin: 'api' | 'principal';
  secret: string;
  previous_secret: string | null;
  previous_until: number | string | null;
  status: 'active' | 'removed';
  created_at: number | string;
  created_by: string | null;
  secret_rotated_at: number | string | null;
  removed_at: number | string | null;
  // Health (0215).
  health: 'unknown' | 'up' | 'down';
  health_since: number | string | null;
  consecutive_failures: number | string;
  last_error: string | null;
  last_status: number | string | null;
}

const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/** The origin of a URL for events and logs: its path and query may carry a token. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid-url';
  }
}

export interface WebhookServiceOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly outbox: Outbox;
  readonly sealer: WebhookSecretSealer;
  readonly principals: PrincipalService;
  /** Checks endpoint URLs when added (loopback, private, metadata addresses refused unless allowed). */
  readonly egress?: EgressGuard;
  /** How long a rotated secret keeps signing beside the new one (ms, default 24 h). */
  readonly overlapMs?: number;
}

/**
 * Webhook endpoints and the signed delivery of key events to them.
 *
 * @example
 * ```ts
 * const { endpoint, secret } = await webhooks.add({ url: 'https://hooks.example.com/keyturn', owner: 'billing' }, meta);
 * // secret: whsec_… shown once; every delivery carries webhook-id, webhook-timestamp, webhook-signature
 * ```
 */
export class WebhookService {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #outbox: Outbox;
  readonly #sealer: WebhookSecretSealer;
  readonly #principals: PrincipalService;
  readonly #egress: EgressGuard | undefined;
  readonly #overlapMs: number;

  constructor(options: WebhookServiceOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#outbox = options.outbox;
    this.#sealer = options.sealer;
    this.#principals = options.principals;
    this.#egress = options.egress;
    this.#overlapMs = options.overlapMs ?? DEFAULT_OVERLAP_MS;
    this.observe(WEBHOOK_TOPIC);
  }

  /** Adds an endpoint; its secret (`whsec_…`) is in the answer and nowhere else in clear. */
  async add(input: unknown, meta: RequestMeta): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
    const data = validate(createWebhookSchema, input);
    await this.#egress?.check(data.url, 'url');
    return this.#store.transaction(async (tx) => {
      let owner: string | null = null;
      if (data.owner !== undefined) {
        const found = await this.#principals.find(data.owner, tx);
        if (!found) throw new KeyturnError('ERR_NOT_FOUND', 'owner: no such principal');
        owner = found.id;
      }
      return this.#insert(tx, { owner, url: data.url, events: [...new Set(data.events ?? WEBHOOK_EVENT_TYPES)], origin: 'api' }, meta);
    });
  }

  async #insert(
    tx: Transaction,
    input: { owner: string | null; url: string; events: readonly WebhookEventType[]; origin: 'api' | 'principal' },
    meta: RequestMeta,
  ): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
    const id = newId('whe', this.#ctx);
    const secret = newWebhookSecret(this.#ctx);
    const row: EndpointRow = {
      id,
      owner_id: input.owner,
      url: input.url,
      event_types: JSON.stringify(input.events),
      origin: input.origin,
      secret: this.#sealer.seal(secret, `webhook-endpoint:${id}`),
      previous_secret: null,
      previous_until: null,
      status: 'active',
      created_at: this.#ctx.now().getTime(),
      created_by: meta.actor,
      secret_rotated_at: null,
      removed_at: null,
      health: 'unknown',
      health_since: null,
      consecutive_failures: 0,
      last_error: null,
      last_status: null,
    };
    await tx.run(
      `INSERT INTO webhook_endpoints (id, owner_id, url, event_types, origin, secret, previous_secret, previous_until, status, created_at, created_by, secret_rotated_at, removed_at)
       VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, 'active', ?, ?, NULL, NULL)`,
      [row.id, row.owner_id, row.url, row.event_types, row.origin, row.secret, row.created_at, row.created_by],
    );
    await appendEvent(
      tx,
      this.#ctx,
      { type: 'webhook.endpoint_created', target: id, outcome: 'success', data: { owner: input.owner, origin: originOf(input.url), events: [...input.events], adopted: input.origin === 'principal' } },
      meta,
    );
    return { endpoint: toView(row), secret };
  }

  /** Endpoints in id order (active ones unless `all`), optionally of one owner. */
  async list(query: { owner?: string; all?: boolean; after?: string; limit?: number } = {}): Promise<WebhookEndpointView[]> {
    const where = ['id > ?'];
    const params: (string | number)[] = [checkCursor('whe', query.after)];
    if (query.owner !== undefined) {
      const owner = await this.#principals.get(query.owner);
      where.push('owner_id = ?');
      params.push(owner.id);
    }
    if (!query.all) where.push("status = 'active'");
    params.push(Math.min(Math.max(query.limit ?? 100, 1), 1000));
    const rows = await this.#store.all<EndpointRow>(`SELECT * FROM webhook_endpoints WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, params);
    return rows.map(toView);
  }

  async get(id: string): Promise<WebhookEndpointView> {
    return toView(await this.#row(this.#store, id));
  }

  async #row(db: Queryable, id: string): Promise<EndpointRow> {
    const row = isIdOf('whe', id) ? await db.get<EndpointRow>('SELECT * FROM webhook_endpoints WHERE id = ?', [id]) : undefined;
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such webhook endpoint');
    return row;
  }

  /** Removes an endpoint: nothing more is sent to it, its pending deliveries are cancelled. Removing a removed one is a no-op answer. */
  async remove(id: string, meta: RequestMeta): Promise<WebhookEndpointView> {
    return this.#store.transaction(async (tx) => {
      const row = await this.#row(tx, id);
      if (row.status === 'removed') return toView(row);
      const now = this.#ctx.now().getTime();
      // Why the deliveries first: recording an attempt locks its message, then the endpoint (its health); taking the
      // locks in that same order here means a removal and a delivery in flight never deadlock on PostgreSQL.
      const cancelled = await this.#outbox.cancel(tx, id);
      const changed = await tx.run("UPDATE webhook_endpoints SET status = 'removed', removed_at = ? WHERE id = ? AND status = 'active'", [now, id]);
      if (changed.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the endpoint changed concurrently; try again');
      await appendEvent(tx, this.#ctx, { type: 'webhook.endpoint_removed', target: id, outcome: 'success', data: { owner: row.owner_id, cancelled } }, meta);
      return toView({ ...row, status: 'removed', removed_at: now });
    });
  }

  /**
   * A new secret for an endpoint, shown once. The previous one keeps signing beside it (a second
   * `v1,` signature in `webhook-signature`) for the overlap, so a receiver can switch without
   * refusing a delivery.
   */
  async rotateSecret(id: string, meta: RequestMeta): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
    return this.#store.transaction(async (tx) => {
      const row = await this.#row(tx, id);
      if (row.status !== 'active') throw new KeyturnError('ERR_CONFLICT', 'the endpoint was removed');
      const now = this.#ctx.now().getTime();
      const secret = newWebhookSecret(this.#ctx);
      const sealed = this.#sealer.seal(secret, `webhook-endpoint:${id}`);
      const until = now + this.#overlapMs;
      const changed = await tx.run(
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?, secret = ?, secret_rotated_at = ? WHERE id = ? AND secret = ? AND status = 'active'",
        [until, sealed, now, id, row.secret],
      );
      if (changed.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the endpoint changed concurrently; try again');
      await appendEvent(tx, this.#ctx, { type: 'webhook.secret_rotated', target: id, outcome: 'success', data: { previousSignsUntil: new Date(until).toISOString() } }, meta);
      return { endpoint: toView({ ...row, secret: sealed, previous_secret: row.secret, previous_until: until, secret_rotated_at: now }), secret };
    });
  }

  /** The deliveries to one endpoint, oldest first, each with its attempts. */
  async deliveries(endpointId: string, query: { after?: string; limit?: number } = {}): Promise<WebhookDelivery[]> {
    await this.#row(this.#store, endpointId);
    const messages = await this.#outbox.list({ subject: endpointId, ...(query.after ? { after: query.after } : {}), limit: query.limit ?? 100 });
    return Promise.all(messages.map(async (m) => this.#delivery(m, endpointId)));
  }

  async #delivery(m: OutboxMessageView, endpoint: string): Promise<WebhookDelivery> {
    const data = m.data as { headers?: Record<string, string> };
    return {
      id: m.id,
      endpoint,
      event: data.headers?.['keyturn-event'] ?? 'unknown',
      status: m.status,
      attempts: m.attempts,
      maxAttempts: m.maxAttempts,
      createdAt: m.createdAt,
      nextAttemptAt: m.status === 'pending' ? m.nextAttemptAt : null,
      settledAt: m.settledAt,
      lastError: m.lastError,
      log: await this.#outbox.attempts(m.id),
    };
  }

  /**
   * Sends a delivery again (same `webhook-id`, so a receiver that did get it drops the copy).
   * Only a settled delivery to an active endpoint: a pending one is `ERR_CONFLICT`, an id that is
   * not a webhook delivery `ERR_NOT_FOUND`; nothing changes then.
   */
  async replay(deliveryId: string, meta: RequestMeta): Promise<WebhookDelivery> {
    let message: OutboxMessageView;
    try {
      message = await this.#outbox.get(deliveryId);
    } catch (err) {
      if (err instanceof KeyturnError && err.code === 'ERR_NOT_FOUND') throw new KeyturnError('ERR_NOT_FOUND', 'no such webhook delivery');
      throw err;
    }
    const endpoint = message.subject;
    if (message.kind !== 'webhook' || endpoint === null || !isIdOf('whe', endpoint)) throw new KeyturnError('ERR_NOT_FOUND', 'no such webhook delivery');
    const replayed = await this.#store.transaction(async (tx) => {
      const row = await this.#row(tx, endpoint);
      if (row.status !== 'active') throw new KeyturnError('ERR_CONFLICT', 'the endpoint was removed; add it again to receive its events');
      const again = await this.#outbox.retry(tx, deliveryId);
      await appendEvent(tx, this.#ctx, { type: 'webhook.delivery_replayed', target: endpoint, outcome: 'success', data: { delivery: deliveryId, previous: message.status } }, meta);
      return again;
    });
    return this.#delivery(replayed, endpoint);
  }

  /**
   * Writes one delivery per active endpoint that asked for `event.type` (the owner's, and those of
   * every principal) to the outbox, in `tx`: delivered exactly when the change commits. The body is
   * Standard Webhooks' `{ type, timestamp, data }`. Resolves to how many.
   */
  async fanOut(tx: Transaction, event: WebhookEvent, options: { topic?: string } = {}): Promise<number> {
    const rows = await tx.all<EndpointRow>("SELECT * FROM webhook_endpoints WHERE status = 'active' AND (owner_id = ? OR owner_id IS NULL) ORDER BY id", [event.principal]);
    const body = { type: event.type, timestamp: this.#ctx.now().toISOString(), data: { subject: event.subject, principal: event.principal, ...event.data } };
    let sent = 0;
    for (const row of rows) {
      if (!(JSON.parse(row.event_types) as string[]).includes(event.type)) continue;
      await this.#outbox.enqueue(tx, {
        ...webhookMessage({ url: row.url, body, headers: { 'user-agent': 'keyturn-webhooks', 'keyturn-event': event.type }, signWith: row.id }),
        topic: options.topic ?? WEBHOOK_TOPIC,
        subject: row.id,
      });
      sent++;
    }
    return sent;
  }

  /**
   * {@link fanOut} for several events of one transaction (a chunk of scheduled rotations): the
   * endpoints of all their principals are read once, and the deliveries written together, in the
   * events' order. Resolves to how many deliveries each event got.
   */
  async fanOutMany(tx: Transaction, events: readonly WebhookEvent[], options: { topic?: string } = {}): Promise<number[]> {
    if (events.length === 0) return [];
    const principals = [...new Set(events.map((e) => e.principal))];
    const rows: EndpointRow[] = [];
    for (let at = 0; at < principals.length; at += 500) {
      const part = principals.slice(at, at + 500);
      rows.push(
        ...(await tx.all<EndpointRow>(
          `SELECT * FROM webhook_endpoints WHERE status = 'active' AND (owner_id IS NULL OR owner_id IN (${part.map(() => '?').join(', ')})) ORDER BY id`,
          part,
        )),
      );
    }
    if (rows.length === 0) return events.map(() => 0);
    // Endpoints of every principal were read with each part: keep one copy, in id order.
    const endpoints = [...new Map(rows.map((row) => [row.id, { row, types: JSON.parse(row.event_types) as string[] }])).values()].sort((a, b) => (a.row.id < b.row.id ? -1 : 1));
    const timestamp = this.#ctx.now().toISOString();
    const messages: Parameters<Outbox['enqueueMany']>[1][number][] = [];
    const counts = events.map((event) => {
      const body = { type: event.type, timestamp, data: { subject: event.subject, principal: event.principal, ...event.data } };
      let sent = 0;
      for (const { row, types } of endpoints) {
        if ((row.owner_id !== null && row.owner_id !== event.principal) || !types.includes(event.type)) continue;
        messages.push({
          ...webhookMessage({ url: row.url, body, headers: { 'user-agent': 'keyturn-webhooks', 'keyturn-event': event.type }, signWith: row.id }),
          topic: options.topic ?? WEBHOOK_TOPIC,
          subject: row.id,
        });
        sent++;
      }
      return sent;
    });
    await this.#outbox.enqueueMany(tx, messages);
    return counts;
  }

  /**
   * Takes a principal's `webhookUrl` (where its leak notifications went before endpoints existed)
   * over as an endpoint for `key.leaked`, once, in `tx`: its deliveries are then signed like every
   * other (the secret is made now and shown by `rotate-secret`). Nothing when the owner has, or had,
   * an endpoint at that URL: removing the adopted endpoint stops its notifications for good.
   */
  async adoptIn(tx: Transaction, principal: string, url: string): Promise<void> {
    const same = await tx.get<{ id: string }>('SELECT id FROM webhook_endpoints WHERE owner_id = ? AND url = ? LIMIT 1', [principal, url]);
    if (same) return;
    await this.#insert(tx, { owner: principal, url, events: ['key.leaked'], origin: 'principal' }, SYSTEM);
  }

  /**
   * The signer of the `webhook` deliverer: Standard Webhooks headers for a message that names an
   * endpoint (`signWith`), with its secret and, during an overlap, the previous one. Messages that
   * name none (the deployment's leak webhook) go unsigned.
   */
  readonly signer: WebhookSigner = async (input) => {
    if (input.signWith === undefined) return {};
    const row = await this.#row(this.#store, input.signWith);
    const associated = `webhook-endpoint:${row.id}`;
    const secrets = [this.#sealer.open(row.secret, associated)];
    if (row.previous_secret !== null && row.previous_until !== null && Number(row.previous_until) > input.timestamp.getTime()) {
      secrets.push(this.#sealer.open(row.previous_secret, associated));
    }
    return webhookHeaders(secrets, input.messageId, input.timestamp, input.body);
  };

  /**
   * Follows the deliveries of `topic` to endpoints, in the transaction that records each attempt:
   * keeps the endpoint's health (a failed attempt marks it down, a delivered one up), records
   * `webhook.endpoint_down` on the first failure of an endpoint that was not down and
   * `webhook.endpoint_recovered` on the first success of one that was (each once per transition:
   * the conditional update lets one attempt win), and `webhook.delivery_failed` when a delivery is
   * given up (its attempts exhausted, or a permanent failure). Register it before any other observer
   * of `topic` that appends events: the endpoint row must be locked before the audit head (locked by
   * the first append until commit), or an attempt and an endpoint change (rotate-secret, remove) can
   * deadlock on PostgreSQL.
   */
  observe(topic: string): void {
    this.#outbox.observe(topic, async (tx, message, attempt) => {
      if (message.subject === null || !isIdOf('whe', message.subject)) return;
      const data = message.data as { url: string; headers?: Record<string, string> };
      const event = data.headers?.['keyturn-event'] ?? 'unknown';
      await this.#health(tx, message.subject, message.id, event, originOf(data.url), attempt);
      if (message.status !== 'dead') return;
      await appendEvent(
        tx,
        this.#ctx,
        {
          type: 'webhook.delivery_failed',
          target: message.subject,
          outcome: 'failure',
          reason: attempt.error ?? 'failed',
          data: { delivery: message.id, event, attempts: attempt.attempt, origin: originOf(data.url), status: attempt.status },
        },
        SYSTEM,
      );
    });
  }

  async #health(tx: Transaction, endpoint: string, delivery: string, event: string, origin: string, attempt: DeliveryAttempt): Promise<void> {
    const now = this.#ctx.now().getTime();
    if (attempt.outcome === 'failed') {
      const error = attempt.error ?? 'failed';
      // Why conditional: of several attempts failing at once (nodes, concurrency), one finds the endpoint not down yet and records the transition.
      const wentDown = await tx.run(
        "UPDATE webhook_endpoints SET health = 'down', health_since = ?, consecutive_failures = 1, last_error = ?, last_status = ? WHERE id = ? AND health <> 'down'",
        [now, error, attempt.status, endpoint],
      );
      if (wentDown.changes === 1) {
        await appendEvent(
          tx,
          this.#ctx,
          { type: 'webhook.endpoint_down', target: endpoint, outcome: 'failure', reason: error, data: { delivery, event, origin, status: attempt.status } },
          SYSTEM,
        );
        return;
      }
      await tx.run("UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1, last_error = ?, last_status = ? WHERE id = ? AND health = 'down'", [
        error,
        attempt.status,
        endpoint,
      ]);
      return;
    }
    const before = await tx.get<Pick<EndpointRow, 'health' | 'health_since' | 'consecutive_failures'>>(
      'SELECT health, health_since, consecutive_failures FROM webhook_endpoints WHERE id = ?',
      [endpoint],
    );
    if (!before || before.health === 'up') return;
    // Conditional on the state read: of two successes at once, one records the recovery.
    const changed = await tx.run(
      "UPDATE webhook_endpoints SET health = 'up', health_since = ?, consecutive_failures = 0, last_error = NULL, last_status = NULL WHERE id = ? AND health = ?",
      [now, endpoint, before.health],
    );
    if (changed.changes !== 1 || before.health !== 'down') return;
    await appendEvent(
      tx,
      this.#ctx,
      {
        type: 'webhook.endpoint_recovered',
        target: endpoint,
        outcome: 'success',
        data: { delivery, origin, downForMs: Math.max(0, now - Number(before.health_since ?? now)), failures: Number(before.consecutive_failures) },
      },
      SYSTEM,
    );
  }
}

function toView(row: EndpointRow): WebhookEndpointView {
  return {
    id: row.id,
    owner: row.owner_id,
    url: row.url,
    events: JSON.parse(row.event_types) as WebhookEventType[],
    status: row.status,
    origin: row.origin,
    createdAt: iso(row.created_at)!,
    secretRotatedAt: iso(row.secret_rotated_at),
    previousSecretUntil: row.previous_secret === null ? null : iso(row.previous_until),
    removedAt: iso(row.removed_at),
    health: {
      state: row.health,
      since: iso(row.health_since),
      consecutiveFailures: Number(row.consecutive_failures),
      lastError: row.health === 'down' ? row.last_error : null,
      lastStatus: row.health === 'down' && row.last_status !== null ? Number(row.last_status) : null,
    },
  };
}
