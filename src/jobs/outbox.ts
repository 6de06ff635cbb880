import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Store, Transaction } from '../store/port.js';
import type { JobDefinition, JobLogger, JobRun, JobRunner } from './runner.js';
import type { WebhookRequest } from './webhook.js';

/**
 * The payload type of each message kind. A capability that ships a deliverer for a new kind adds
 * it here by declaration merging, so `enqueue` and `deliverer` stay type-checked:
 *
 * ```ts
 * declare module '../jobs/outbox.js' {
 *   interface OutboxKinds { syslog: { line: string } }
 * }
 * ```
 */
export interface OutboxKinds {
  webhook: WebhookRequest;
}

export type OutboxKind = keyof OutboxKinds & string;

/** A message to deliver later, at least once. Its data is stored as JSON: never put a secret in it. */
export interface OutboxMessage<K extends OutboxKind = OutboxKind> {
  readonly kind: K;
  readonly data: OutboxKinds[K];
  /** Names the observers that hear of each attempt (see {@link Outbox.observe}), e.g. `leak.notification`. */
  readonly topic?: string;
  /** What the message is about (a non-secret id, e.g. a finding), to look its messages up. */
  readonly subject?: string;
  /** Attempts before the message is dead (default: the outbox's). */
  readonly maxAttempts?: number;
  /** Not delivered before this time. */
  readonly notBefore?: Date;
}

export type OutboxStatus = 'pending' | 'delivered' | 'dead';

/** A message as stored. */
export interface OutboxMessageView<K extends OutboxKind = OutboxKind> {
  readonly id: string;
  readonly kind: K;
  readonly topic: string | null;
  readonly subject: string | null;
  readonly data: OutboxKinds[K];
  readonly status: OutboxStatus;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly createdAt: string;
  /** When the next attempt is due (pending messages). */
  readonly nextAttemptAt: string;
  /** When it was delivered or given up. */
  readonly settledAt: string | null;
  readonly lastError: string | null;
}

/** One line of the delivery log. */
export interface DeliveryAttempt {
  readonly messageId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly node: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly outcome: 'delivered' | 'failed';
  /** The receiver's status (HTTP status for webhooks), when it answered. */
  readonly status: number | null;
  /** Why it failed (`timeout`, `unreachable`, `HTTP 503`, …): never a URL or a secret. */
  readonly error: string | null;
}

/** What a deliverer reports. `permanent` failures are not retried (the message is dead at once). */
export type Delivery =
  | { readonly ok: true; readonly status?: number }
  | { readonly ok: false; readonly status?: number; readonly error: string; readonly permanent?: boolean };

/** What a deliverer is given: the message, which attempt this is, and a signal aborted when the runner stops. */
export interface DeliveryRequest<K extends OutboxKind = OutboxKind> {
  readonly id: string;
  readonly kind: K;
  readonly attempt: number;
  readonly data: OutboxKinds[K];
  readonly signal: AbortSignal;
}

/** Sends one message of kind `K`; throwing counts as a failed attempt. */
export type Deliverer<K extends OutboxKind = OutboxKind> = (request: DeliveryRequest<K>) => Promise<Delivery>;

/**
 * Hears of every attempt on messages of one topic, in the transaction that records it (e.g. to
 * append an audit event). `message` is the message after the attempt (delivered, dead or pending).
 */
export type AttemptObserver = (tx: Transaction, message: OutboxMessageView, attempt: DeliveryAttempt) => Promise<void>;

export interface OutboxOptions {
  readonly store: Store;
  readonly ctx: Context;
  /** Identifies this node in the delivery log. */
  readonly nodeId: string;
  /** Attempts before a message is dead (default 10). */
  readonly maxAttempts?: number;
  /** First retry delay (ms, default 10 s); it doubles with each failure, with jitter. */
  readonly backoffBaseMs?: number;
  /** Longest retry delay (ms, default 1 h). */
  readonly backoffMaxMs?: number;
  /** How long one delivery holds its message (ms, default 2 min): longer than any deliverer's timeout. */
  readonly leaseMs?: number;
  /** Messages delivered at once (default 8). */
  readonly concurrency?: number;
  readonly logger?: JobLogger;
}

interface MessageRow {
  id: string;
  kind: string;
  topic: string | null;
  subject: string | null;
  data: string;
  status: OutboxStatus;
  attempts: number | string;
  max_attempts: number | string;
  created_at: number | string;
  next_attempt_at: number | string;
  settled_at: number | string | null;
  last_error: string | null;
}

interface AttemptRow {
  message_id: string;
  attempt: number | string;
  node: string;
  started_at: number | string;
  duration_ms: number | string;
  outcome: 'delivered' | 'failed';
  status: number | string | null;
  error: string | null;
}

/** The runner job that delivers due messages. */
export const OUTBOX_JOB = 'outbox.deliver';
/** Change-feed channel an enqueue announces itself on, so a delivering node wakes at once. */
export const OUTBOX_CHANNEL = 'outbox';

/** Batches one run delivers before it yields (and runs again at once). */
const MAX_BATCHES_PER_RUN = 50;

const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

function toView(row: MessageRow): OutboxMessageView {
  return {
    id: row.id,
    kind: row.kind as OutboxKind,
    topic: row.topic,
    subject: row.subject,
    data: JSON.parse(row.data) as OutboxKinds[OutboxKind],
    status: row.status,
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    createdAt: iso(row.created_at)!,
    nextAttemptAt: iso(row.next_attempt_at)!,
    settledAt: iso(row.settled_at),
    lastError: row.last_error,
  };
}

function toAttempt(row: AttemptRow): DeliveryAttempt {
  return {
    messageId: row.message_id,
    attempt: Number(row.attempt),
    node: row.node,
    startedAt: iso(row.started_at)!,
    durationMs: Number(row.duration_ms),
    outcome: row.outcome,
    status: row.status === null ? null : Number(row.status),
    error: row.error,
  };
}

/**
 * Delay before retry number `failures` (1 after the first failure): `base · 2^(failures−1)`, capped
 * at `max`, of which the upper half is random ("equal jitter"): delays grow, and receivers that
 * failed together are not hit again all at the same instant.
 */
export function retryDelay(failures: number, baseMs: number, maxMs: number, random: (bytes: number) => Uint8Array): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 40)));
  const fraction = Buffer.from(random(4)).readUInt32BE(0) / 2 ** 32;
  return Math.floor(full / 2 + (full / 2) * fraction);
}

/** Messages per INSERT of `enqueueMany` (8 parameters each). */
const ENQUEUE_BATCH = 200;

/**
 * The durable outbox. A capability writes a message with {@link Outbox.enqueue} in the same
 * transaction as the change it announces, so a message exists if and only if the change committed;
 * the `outbox.deliver` job then delivers it at least once — retried with exponential backoff and
 * jitter, dead after `maxAttempts` — through the deliverer registered for its kind. Each message is
 * claimed with a lease (a conditional `UPDATE`), so two nodes never send the same one at once, and
 * every attempt is logged ({@link Outbox.attempts}).
 *
 * Receivers must tolerate duplicates (a node can die after sending and before recording): the
 * message id is stable across attempts (webhooks carry it in `keyturn-message-id`).
 *
 * @example
 * ```ts
 * outbox.deliverer('webhook', webhookDeliverer({ timeoutMs: 5_000 }));
 * await store.transaction(async (tx) => {
 *   // … the change itself …
 *   await outbox.enqueue(tx, webhookMessage({ url, body: { type: 'leak.detected' } }));
 * });
 * ```
 */
export class Outbox {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #nodeId: string;
  readonly #maxAttempts: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #leaseMs: number;
  readonly #concurrency: number;
  readonly #logger: JobLogger | undefined;
  readonly #deliverers = new Map<string, Deliverer<never>>();
  readonly #observers = new Map<string, AttemptObserver[]>();
  #unsubscribe: (() => void) | undefined;

  constructor(options: OutboxOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#nodeId = options.nodeId;
    this.#maxAttempts = options.maxAttempts ?? 10;
    this.#baseMs = options.backoffBaseMs ?? 10_000;
    this.#maxMs = options.backoffMaxMs ?? 3_600_000;
    this.#leaseMs = options.leaseMs ?? 120_000;
    this.#concurrency = options.concurrency ?? 8;
    this.#logger = options.logger;
  }

  /** Delivers messages of `kind` on this node (a node only claims kinds it can deliver). */
  deliverer<K extends OutboxKind>(kind: K, deliver: Deliverer<K>): void {
    this.#deliverers.set(kind, deliver as unknown as Deliverer<never>);
  }

  /** Calls `observer` after each attempt on a message of `topic`, in the transaction that records it. */
  observe(topic: string, observer: AttemptObserver): void {
    const list = this.#observers.get(topic) ?? [];
    list.push(observer);
    this.#observers.set(topic, list);
  }

  /**
   * Writes `message` in `tx`: it is delivered only if `tx` commits. Resolves to its id. Throws
   * `ERR_VALIDATION` for a message that could never be stored.
   */
  async enqueue<K extends OutboxKind>(tx: Transaction, message: OutboxMessage<K>): Promise<string> {
    return (await this.enqueueMany(tx, [message]))[0]!;
  }

  /**
   * {@link enqueue} for several messages at once, in order: one INSERT per 200 messages (a chunk of
   * scheduled rotations fans out its webhooks this way). Resolves to their ids; nothing is written
   * when one of them could never be stored.
   */
  async enqueueMany(tx: Transaction, messages: readonly OutboxMessage<OutboxKind>[]): Promise<string[]> {
    const now = this.#ctx.now().getTime();
    const rows = messages.map((message) => {
      const maxAttempts = message.maxAttempts ?? this.#maxAttempts;
      if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 1_000) {
        throw new KeyturnError('ERR_VALIDATION', 'maxAttempts: 1 to 1000');
      }
      const data = JSON.stringify(message.data);
      if (data === undefined) throw new KeyturnError('ERR_VALIDATION', 'data: must be JSON');
      return [newId('obx', this.#ctx), message.kind, message.topic ?? null, message.subject ?? null, data, maxAttempts, now, Math.max(now, message.notBefore?.getTime() ?? now)] as const;
    });
    for (let at = 0; at < rows.length; at += ENQUEUE_BATCH) {
      const batch = rows.slice(at, at + ENQUEUE_BATCH);
      await tx.run(
        `INSERT INTO outbox_messages (id, kind, topic, subject, data, status, attempts, max_attempts, created_at, next_attempt_at)
         VALUES ${batch.map(() => "(?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)").join(', ')}`,
        batch.flat(),
      );
    }
    for (const [id] of rows) tx.notify(OUTBOX_CHANNEL, id);
    return rows.map(([id]) => id);
  }

  /**
   * Registers the delivery job on `runner` (one node delivers at a time; runs every `everyMs`, and at
   * once when a message is enqueued anywhere in the cluster and the runner is started).
   */
  async attach(runner: JobRunner, options: { everyMs?: number } = {}): Promise<void> {
    await runner.register(this.job(options.everyMs ?? 5_000));
    this.#unsubscribe?.();
    this.#unsubscribe = this.#store.subscribe(OUTBOX_CHANNEL, () => runner.nudge(OUTBOX_JOB));
  }

  /** Stops listening for enqueues. */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** The runner job that delivers due messages. */
  job(everyMs: number): JobDefinition {
    return {
      name: OUTBOX_JOB,
      everyMs,
      run: async (run: JobRun) => {
        const more = await this.deliverDue(run.signal);
        // Still more due: run again at once rather than after the interval.
        return more ? { nextRunAt: this.#ctx.now() } : {};
      },
    };
  }

  /**
   * Delivers due messages in batches until none is due (or the signal aborts, or a run's share is
   * done: then resolves `true`, meaning more may be due). Used by the job; tests call it directly.
   */
  async deliverDue(signal: AbortSignal = new AbortController().signal): Promise<boolean> {
    const kinds = [...this.#deliverers.keys()];
    if (kinds.length === 0) return false;
    for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
      if (signal.aborted) return true;
      const now = this.#ctx.now().getTime();
      const due = await this.#store.all<MessageRow>(
        `SELECT * FROM outbox_messages
         WHERE status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?) AND kind IN (${kinds.map(() => '?').join(', ')})
         ORDER BY next_attempt_at, id LIMIT ?`,
        [now, now, ...kinds, this.#concurrency],
      );
      if (due.length === 0) return false;
      const claimed: Array<{ row: MessageRow; claimId: string }> = [];
      for (const row of due) {
        const claimId = Buffer.from(this.#ctx.random(16)).toString('hex');
        // The claim: only one node's UPDATE finds the message still pending and unheld.
        const won = await this.#store.run(
          `UPDATE outbox_messages SET claim_id = ?, claimed_until = ?
           WHERE id = ? AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)`,
          [claimId, now + this.#leaseMs, row.id, now],
        );
        if (won.changes === 1) claimed.push({ row, claimId });
      }
      await Promise.all(claimed.map(({ row, claimId }) => this.#deliverOne(row, claimId, signal)));
    }
    return true;
  }

  async #deliverOne(row: MessageRow, claimId: string, signal: AbortSignal): Promise<void> {
    const attempt = Number(row.attempts) + 1;
    const started = this.#ctx.now().getTime();
    let delivery: Delivery;
    try {
      const deliver = this.#deliverers.get(row.kind)!;
      delivery = await deliver({ id: row.id, kind: row.kind as never, attempt, data: JSON.parse(row.data) as never, signal });
    } catch (err) {
      this.#logger?.warn({ err, message: row.id, kind: row.kind }, 'outbox deliverer threw');
      delivery = { ok: false, error: 'deliverer failed' };
    }
    const now = this.#ctx.now().getTime();
    const failed = !delivery.ok;
    const error = delivery.ok ? null : delivery.error.split('\n')[0]!.slice(0, 200);
    const dead = failed && (attempt >= Number(row.max_attempts) || (!delivery.ok && delivery.permanent === true));
    const status: OutboxStatus = !failed ? 'delivered' : dead ? 'dead' : 'pending';
    const next = status === 'pending' ? now + retryDelay(attempt, this.#baseMs, this.#maxMs, (n) => this.#ctx.random(n)) : Number(row.next_attempt_at);
    const logged: DeliveryAttempt = {
      messageId: row.id,
      attempt,
      node: this.#nodeId,
      startedAt: new Date(started).toISOString(),
      durationMs: Math.max(0, now - started),
      outcome: failed ? 'failed' : 'delivered',
      status: delivery.status ?? null,
      error,
    };
    try {
      await this.#store.transaction(async (tx) => {
        // Only the claim holder records the attempt; if its lease ran out meanwhile, the message went back to the queue.
        const updated = await tx.run(
          `UPDATE outbox_messages SET attempts = ?, status = ?, next_attempt_at = ?, claim_id = NULL, claimed_until = NULL,
             settled_at = ?, last_error = ?
           WHERE id = ? AND claim_id = ?`,
          [attempt, status, next, status === 'pending' ? null : now, error, row.id, claimId],
        );
        if (updated.changes !== 1) return;
        await tx.run(
          `INSERT INTO outbox_attempts (message_id, attempt, node, started_at, duration_ms, outcome, status, error)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id, attempt) DO NOTHING`,
          [row.id, attempt, this.#nodeId, started, logged.durationMs, logged.outcome, logged.status, error],
        );
        const observers = row.topic === null ? undefined : this.#observers.get(row.topic);
        if (observers) {
          const view = toView({ ...row, attempts: attempt, status, next_attempt_at: next, settled_at: status === 'pending' ? null : now, last_error: error });
          for (const observe of observers) await observe(tx, view, logged);
        }
      });
    } catch (err) {
      this.#logger?.error({ err, message: row.id }, 'could not record an outbox delivery; it is retried when its lease ends');
      return;
    }
    if (status === 'dead') this.#logger?.warn({ message: row.id, kind: row.kind, attempts: attempt, error }, 'outbox message dead: delivery given up');
  }

  /**
   * Delivers what is due now (as the runner would) until no message of `topics` still awaits its
   * first attempt, or `timeoutMs` passes: how a caller (and a test) waits for "handed over and
   * tried once" without knowing the runner's pace. Later retries are not waited for.
   */
  async firstAttempts(topics: readonly string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs; // real time: the wait is real even when the context clock is frozen
    for (;;) {
      await this.deliverDue();
      let waiting = false;
      for (const topic of topics) {
        if ((await this.list({ status: 'pending', topic, limit: 1000 })).some((m) => m.attempts === 0)) waiting = true;
      }
      if (!waiting || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** One message. */
  async get(id: string): Promise<OutboxMessageView> {
    const row = await this.#store.get<MessageRow>('SELECT * FROM outbox_messages WHERE id = ?', [id]);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such outbox message');
    return toView(row);
  }

  /** Messages in id (creation) order, optionally of one status, topic or subject; `after` pages. */
  async list(query: { status?: OutboxStatus; topic?: string; subject?: string; after?: string; limit?: number } = {}): Promise<OutboxMessageView[]> {
    const where = ['id > ?'];
    const params: (string | number)[] = [query.after ?? ''];
    for (const [column, value] of [
      ['status', query.status],
      ['topic', query.topic],
      ['subject', query.subject],
    ] as const) {
      if (value !== undefined) {
        where.push(`${column} = ?`);
        params.push(value);
      }
    }
    params.push(Math.min(Math.max(query.limit ?? 100, 1), 1_000));
    const rows = await this.#store.all<MessageRow>(`SELECT * FROM outbox_messages WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, params);
    return rows.map(toView);
  }

  /** The delivery log of one message, first attempt first. */
  async attempts(messageId: string): Promise<DeliveryAttempt[]> {
    const rows = await this.#store.all<AttemptRow>('SELECT * FROM outbox_attempts WHERE message_id = ? ORDER BY attempt', [messageId]);
    return rows.map(toAttempt);
  }

  /**
   * Sends a settled (delivered or dead) message again: it is pending from now, with a fresh
   * allowance of attempts, its id (and so a receiver's duplicate check) unchanged and its delivery
   * log continued. A pending message is `ERR_CONFLICT` (it is still being delivered), an unknown one
   * `ERR_NOT_FOUND`; either way nothing changes. Resolves to the message as it now is.
   */
  async retry(tx: Transaction, id: string): Promise<OutboxMessageView> {
    const row = await tx.get<MessageRow>('SELECT * FROM outbox_messages WHERE id = ?', [id]);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such delivery');
    if (row.status === 'pending') throw new KeyturnError('ERR_CONFLICT', `delivery ${id} is still pending (attempt ${Number(row.attempts) + 1} is due ${iso(row.next_attempt_at)}); replay a delivered or failed one`);
    const now = this.#ctx.now().getTime();
    const changed = await tx.run(
      `UPDATE outbox_messages SET status = 'pending', next_attempt_at = ?, settled_at = NULL, last_error = NULL, claim_id = NULL, claimed_until = NULL, max_attempts = attempts + ?
       WHERE id = ? AND status <> 'pending'`,
      [now, this.#maxAttempts, id],
    );
    if (changed.changes !== 1) throw new KeyturnError('ERR_CONFLICT', 'the delivery changed concurrently; try again');
    tx.notify(OUTBOX_CHANNEL, id);
    return toView({ ...row, status: 'pending', next_attempt_at: now, settled_at: null, last_error: null, max_attempts: Number(row.attempts) + this.#maxAttempts });
  }

  /**
   * Gives up the pending messages about `subject` in `tx` (e.g. those to a webhook endpoint being
   * removed): they are `dead` with the error `cancelled` and never sent again (one already in
   * flight may still arrive once). Resolves to how many.
   */
  async cancel(tx: Transaction, subject: string): Promise<number> {
    const now = this.#ctx.now().getTime();
    // The claim is dropped too: an attempt in flight then records nothing and cannot revive the message.
    return (
      await tx.run("UPDATE outbox_messages SET status = 'dead', settled_at = ?, last_error = 'cancelled', claim_id = NULL, claimed_until = NULL WHERE subject = ? AND status = 'pending'", [
        now,
        subject,
      ])
    ).changes;
  }

  /** Deletes delivered and dead messages (and their log) settled more than `olderThanMs` ago. Resolves to how many. */
  async prune(olderThanMs: number): Promise<number> {
    const cutoff = this.#ctx.now().getTime() - olderThanMs;
    return this.#store.transaction(async (tx) => {
      await tx.run(
        "DELETE FROM outbox_attempts WHERE message_id IN (SELECT id FROM outbox_messages WHERE status <> 'pending' AND settled_at < ?)",
        [cutoff],
      );
      return (await tx.run("DELETE FROM outbox_messages WHERE status <> 'pending' AND settled_at < ?", [cutoff])).changes;
    });
  }
}
