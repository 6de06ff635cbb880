import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { redactSecrets } from '../core/redact.js';
import type { Queryable, Transaction } from '../store/port.js';
import { EVENT_CATALOG, type EventData, type EventOutcome, type EventType, type Outcome } from './catalog.js';

/** Every event type keyturn records, in declaration order (see {@link EVENT_CATALOG}). */
export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as readonly EventType[];
export type { EventData, EventType, Outcome } from './catalog.js';

/** Who asked, from where: carried from the edge into every event. */
export interface RequestMeta {
  /** Principal id of the caller, or `null` for anonymous/system. */
  readonly actor: string | null;
  /** Whether the caller is a person (`user`) or a workload; decides exposure records. */
  readonly actorKind?: 'user' | 'service' | null;
  readonly sourceIp?: string | null;
  readonly requestId?: string | null;
  /**
   * Id of the API key that authenticated the request, if one did. Not recorded in events: the
   * leak response uses it never to suspend the key a scan authenticated with.
   */
  readonly credential?: string | null;
}

export const SYSTEM: RequestMeta = Object.freeze({ actor: null, actorKind: null, sourceIp: null, requestId: null });

/** `data` is required when its declaration has a required field, optional when it has none. */
type DataOf<D> = {} extends D ? { readonly data?: D } : { readonly data: D };

/**
 * One event to append, checked against its type's declaration in {@link EVENT_CATALOG}: `outcome`
 * must be one the type is recorded with, and `data` must have exactly the declared fields (a
 * missing required field or an unknown one does not compile).
 */
export type EventInput = {
  readonly [T in EventType]: {
    readonly type: T;
    readonly target: string | null;
    readonly outcome: EventOutcome<T>;
    readonly reason?: string | null;
  } & DataOf<EventData<T>>;
}[EventType];

/** An event as read back. */
export interface AuditEvent {
  readonly seq: number;
  readonly id: string;
  readonly time: string;
  readonly type: EventType;
  readonly actor: string | null;
  readonly target: string | null;
  readonly outcome: Outcome;
  readonly reason: string | null;
  readonly sourceIp: string | null;
  readonly requestId: string | null;
  readonly data: Record<string, unknown>;
}

/** Channel on which each committed event's id is announced. */
export const EVENTS_CHANNEL = 'events';

/** A text field of an event as stored: keyturn secrets redacted, whoever supplied it. */
function clean(text: string | null | undefined): string | null {
  return text == null ? null : redactSecrets(String(text));
}

/**
 * Appends one event inside `tx`, so it commits or rolls back with the change it records. The
 * input is type-checked against the event type's declaration ({@link EventInput}); `data` is
 * serialised as given (its key order is the caller's). Every field — target, actor, reason,
 * source address, request id and `data` — passes the checksum-aware secret redaction
 * (`redactSecrets`) before it is stored: a client that sends its secret where its id belongs
 * (a claimed client id becomes the target) leaves `<prefix>_[REDACTED]`, never the secret.
 *
 * @example
 * ```ts
 * await store.transaction(async (tx) => {
 *   await tx.run('UPDATE api_keys SET status = ? WHERE id = ?', ['revoked', id]);
 *   await appendEvent(tx, ctx, { type: 'key.revoked', target: id, outcome: 'success' }, meta);
 * });
 * ```
 */
export async function appendEvent(tx: Transaction, ctx: Context, input: EventInput, meta: RequestMeta): Promise<string> {
  const id = newId('evt', ctx);
  const seq = await nextSeq(tx);
  await tx.run(
    `INSERT INTO events (seq, id, time, type, actor, target, outcome, reason, source_ip, request_id, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      seq,
      id,
      ctx.now().getTime(),
      input.type,
      clean(meta.actor),
      clean(input.target),
      input.outcome,
      clean(input.reason),
      clean(meta.sourceIp),
      clean(meta.requestId),
      redactSecrets(JSON.stringify(input.data ?? {})),
    ],
  );
  tx.notify(EVENTS_CHANNEL, id);
  return id;
}

/** Events per INSERT of {@link appendEvents} (11 parameters each: well under both databases' limits). */
const APPEND_BATCH = 250;

/**
 * Appends several events inside `tx` at once, in the given order, as {@link appendEvent} would one
 * after another (same checks, same redaction, consecutive sequence numbers, one notification each),
 * but in two statements for up to 250 events instead of two per event: the scheduler's chunks of
 * rotations record their events this way. Resolves to the events' ids, in order.
 *
 * @example
 * ```ts
 * await appendEvents(tx, ctx, rotated.map((k) => ({ type: 'key.retired', target: k.id, outcome: 'success', data: { successor: null } })), SYSTEM);
 * ```
 */
export async function appendEvents(tx: Transaction, ctx: Context, inputs: readonly EventInput[], meta: RequestMeta): Promise<string[]> {
  if (inputs.length === 0) return [];
  // One claim of `inputs.length` numbers: the head's row lock is held to the commit, as for one event.
  const first = (await nextSeq(tx, inputs.length)) - inputs.length + 1;
  const time = ctx.now().getTime();
  const actor = clean(meta.actor);
  const sourceIp = clean(meta.sourceIp);
  const requestId = clean(meta.requestId);
  const ids = inputs.map(() => newId('evt', ctx));
  for (let at = 0; at < inputs.length; at += APPEND_BATCH) {
    const batch = inputs.slice(at, at + APPEND_BATCH);
    await tx.run(
      `INSERT INTO events (seq, id, time, type, actor, target, outcome, reason, source_ip, request_id, data)
       VALUES ${batch.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      batch.flatMap((input, i) => [
        first + at + i,
        ids[at + i]!,
        time,
        input.type,
        actor,
        clean(input.target),
        input.outcome,
        clean(input.reason),
        sourceIp,
        requestId,
        redactSecrets(JSON.stringify(input.data ?? {})),
      ]),
    );
  }
  for (const id of ids) tx.notify(EVENTS_CHANNEL, id);
  return ids;
}

/**
 * The next sequence number, taken from the one-row counter `audit_head`. The UPDATE locks that row
 * until the transaction ends, so a second writer waits here until the first commits (and then reads
 * the committed value) or rolls back (and then reuses the number): numbers are gap-free and become
 * visible in order, so a reader that saw `seq = n` has already seen every number below it. The
 * lock is held from the append to the commit; callers append as the last step of their change.
 *
 * On SQLite the one writer commits several transactions together (group commit, see
 * `src/store/sqlite`), so the counter lives in that commit ({@link Transaction.commit}): read from
 * `audit_head` by the commit's first append, counted in memory by each append after it, and written
 * back once, as the commit's last statement. A transaction that rolls back gives its numbers back
 * (the next append reuses them), and the row is committed with the events it counts, so a restart
 * (or another process writing the file, such as `keyturn admin recover`) continues from it. Same
 * guarantee, one UPDATE per commit instead of one per event. Resolves to the last of `count`
 * consecutive numbers claimed at once ({@link appendEvents}).
 */
async function nextSeq(tx: Transaction, count = 1): Promise<number> {
  const commit = tx.commit;
  if (commit === undefined) {
    const row = await tx.get<{ seq: number | string }>('UPDATE audit_head SET seq = seq + ? WHERE id = 1 RETURNING seq', [count]);
    if (row === undefined) throw missingHead();
    return Number(row.seq);
  }
  let head = commit.get<{ seq: number }>(HEAD_KEY);
  if (head === undefined) {
    const row = await tx.get<{ seq: number | string }>('SELECT seq FROM audit_head WHERE id = 1');
    if (row === undefined) throw missingHead();
    const counted = { seq: Number(row.seq) };
    head = counted;
    commit.set(HEAD_KEY, counted);
    commit.beforeCommit(HEAD_KEY, (db) => db.run('UPDATE audit_head SET seq = ? WHERE id = 1', [counted.seq]));
  }
  const counter = head;
  const before = counter.seq;
  // Transactions of one commit run one after another: one that rolls back took the last numbers.
  commit.onRollback(() => {
    if (counter.seq > before) counter.seq = before;
  });
  counter.seq = before + count;
  return counter.seq;
}

/** Where a group commit keeps the log's head (see {@link nextSeq}). */
const HEAD_KEY = 'audit.head';

function missingHead(): KeyturnError {
  return new KeyturnError('ERR_INTERNAL', 'the audit log head is missing (migration 0160 not applied?)');
}

/** The log's head: the last sequence number handed out, and where the gap-free guarantee starts. */
export async function logHead(db: Queryable): Promise<{ seq: number; baseSeq: number }> {
  const row = await db.get<{ seq: number | string; base_seq: number | string }>('SELECT seq, base_seq FROM audit_head WHERE id = 1');
  return { seq: Number(row?.seq ?? 0), baseSeq: Number(row?.base_seq ?? 0) };
}

interface EventRow {
  seq: number;
  id: string;
  time: number;
  type: EventType;
  actor: string | null;
  target: string | null;
  outcome: Outcome;
  reason: string | null;
  source_ip: string | null;
  request_id: string | null;
  data: string;
}

export interface EventQuery {
  readonly afterSeq?: number;
  readonly type?: string;
  readonly target?: string;
  readonly limit?: number;
}

/** Reads events in append order. */
export async function listEvents(db: Queryable, query: EventQuery = {}): Promise<AuditEvent[]> {
  const where: string[] = ['seq > ?'];
  const params: (string | number)[] = [query.afterSeq ?? 0];
  if (query.type) {
    where.push('type = ?');
    params.push(query.type);
  }
  if (query.target) {
    where.push('target = ?');
    params.push(query.target);
  }
  params.push(Math.min(Math.max(query.limit ?? 100, 1), 1000));
  const rows = await db.all<EventRow>(`SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`, params);
  return rows.map(eventOfRow);
}

function eventOfRow(row: EventRow): AuditEvent {
  return {
    seq: Number(row.seq),
    id: row.id,
    time: new Date(row.time).toISOString(),
    type: row.type,
    actor: row.actor,
    target: row.target,
    outcome: row.outcome,
    reason: row.reason,
    sourceIp: row.source_ip,
    requestId: row.request_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}

/** A stored row as the tamper check reads it: the event, or why it cannot be read as one. */
export type LoggedRow = { readonly seq: number; readonly id: string } & ({ readonly event: AuditEvent } | { readonly unreadable: string });

/**
 * Reads every stored row with `seq > afterSeq` in sequence order, at most `limit`, without
 * filtering or validation: what the checkpointer hashes and `keyturn audit verify` recomputes. A
 * row whose `data` is not JSON comes back `unreadable` (only tampering makes one).
 */
export async function readLog(db: Queryable, afterSeq: number, limit: number): Promise<LoggedRow[]> {
  const rows = await db.all<EventRow>('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?', [afterSeq, limit]);
  return rows.map((row) => {
    try {
      return { seq: Number(row.seq), id: row.id, event: eventOfRow(row) };
    } catch {
      return { seq: Number(row.seq), id: row.id, unreadable: 'its data is not JSON' };
    }
  });
}

/** The number of stored events and the lowest sequence number (`null` when empty). */
export async function logExtent(db: Queryable): Promise<{ count: number; first: number | null; last: number | null }> {
  const row = await db.get<{ n: number | string; lo: number | string | null; hi: number | string | null }>('SELECT COUNT(*) AS n, MIN(seq) AS lo, MAX(seq) AS hi FROM events');
  return { count: Number(row?.n ?? 0), first: row?.lo == null ? null : Number(row.lo), last: row?.hi == null ? null : Number(row.hi) };
}

/** How long and how many events are kept (see {@link pruneEvents}); `0` turns a limit off. */
export interface EventRetention {
  readonly maxAgeMs: number;
  readonly maxCount: number;
}

/** Rows deleted per statement: a prune never holds one long transaction. */
const PRUNE_BATCH = 5_000;

/**
 * Deletes every event with `seq <= through`, oldest first, in batches (at most `maxBatches` per
 * call): what the tamper-evident log's pruning uses, which chooses `through` at the end of a
 * checkpoint (see `AuditLog.prune` in `src/audit/log.ts`).
 */
export async function deleteEventsThrough(db: Queryable, through: number, maxBatches = 20): Promise<{ deleted: number; more: boolean }> {
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const result = await db.run(`DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? ORDER BY seq LIMIT ${PRUNE_BATCH})`, [through]);
    deleted += result.changes;
    if (result.changes < PRUNE_BATCH) return { deleted, more: false };
  }
  return { deleted, more: true };
}

/**
 * Deletes the oldest events beyond the retention: older than `maxAgeMs`, and beyond the newest
 * `maxCount` (by sequence number, so with gaps in the sequence fewer than `maxCount` may remain).
 * Works from the low end of the primary key only: no index on time is needed, and events newer
 * than the cutoff are never read. At most `maxBatches` batches per call; resolves the rows deleted
 * and whether more are due. Rows after `keepAfter` are kept whatever their age: the tamper-evident
 * log passes the last sequence number of a stored checkpoint, so what remains starts where a
 * checkpoint's tree ends and still verifies (see `src/audit/log.ts`).
 */
export async function pruneEvents(
  db: Queryable,
  now: number,
  retention: EventRetention,
  maxBatches = 20,
  keepAfter = Number.MAX_SAFE_INTEGER,
): Promise<{ deleted: number; more: boolean }> {
  if (retention.maxAgeMs <= 0 && retention.maxCount <= 0) return { deleted: 0, more: false };
  // Rows at or below `countCut` are beyond the newest `maxCount`; rows before `ageCut` are too old.
  let countCut = 0;
  if (retention.maxCount > 0) {
    const last = await db.get<{ seq: number | string | null }>('SELECT MAX(seq) AS seq FROM events');
    countCut = Math.max(0, Number(last?.seq ?? 0) - retention.maxCount);
  }
  const ageCut = retention.maxAgeMs > 0 ? now - retention.maxAgeMs : -1;
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    // Looks only at the oldest rows by sequence; a batch that keeps any of them is the last.
    const result = await db.run(
      `DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ${PRUNE_BATCH}) AND (seq <= ? OR time < ?) AND seq <= ?`,
      [countCut, ageCut, keepAfter],
    );
    deleted += result.changes;
    if (result.changes < PRUNE_BATCH) return { deleted, more: false };
  }
  return { deleted, more: true };
}

/** The highest sequence number in the log (0 when empty): where a reader that wants only new events starts. */
export async function lastEventSeq(db: Queryable): Promise<number> {
  const row = await db.get<{ seq: number | string | null }>('SELECT MAX(seq) AS seq FROM events');
  return Number(row?.seq ?? 0);
}
