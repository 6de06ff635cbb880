/**
 * Durable cursors over the event log: one row per audit sink (and one for the detection engine)
 * holding the sequence number it has been given up to, whether it is up, and when to try again.
 * The only SQL that names `audit_sink_cursors`.
 */
import type { Queryable } from '../../store/port.js';

/** A cursor as stored. */
export interface SinkCursor {
  readonly name: string;
  readonly kind: string;
  /** Every event with `seq` at or below this was delivered. */
  readonly position: number;
  readonly state: 'up' | 'down';
  /** Failed deliveries in a row. */
  readonly failures: number;
  /** Not before this (ms since the epoch): the backoff after a failure. */
  readonly nextAttemptAt: number;
  readonly downSince: number | null;
  readonly lastError: string | null;
  /** Events delivered since the cursor was made. */
  readonly delivered: number;
  readonly updatedAt: number;
}

interface CursorRow {
  name: string;
  kind: string;
  position: number | string;
  state: 'up' | 'down';
  failures: number | string;
  next_attempt_at: number | string;
  down_since: number | string | null;
  last_error: string | null;
  delivered: number | string;
  updated_at: number | string;
}

const fromRow = (r: CursorRow): SinkCursor => ({
  name: r.name,
  kind: r.kind,
  position: Number(r.position),
  state: r.state,
  failures: Number(r.failures),
  nextAttemptAt: Number(r.next_attempt_at),
  downSince: r.down_since === null ? null : Number(r.down_since),
  lastError: r.last_error,
  delivered: Number(r.delivered),
  updatedAt: Number(r.updated_at),
});

/**
 * The cursor `name`, made at `start` when it does not exist yet (a second node racing to make it
 * changes nothing: `ON CONFLICT DO NOTHING`).
 */
export async function ensureCursor(db: Queryable, name: string, kind: string, start: number, now: number): Promise<SinkCursor> {
  // Why: a sink's position must survive restarts and be shared by every node of a cluster.
  await db.run('INSERT INTO audit_sink_cursors (name, kind, position, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING', [name, kind, start, now]);
  return (await readCursor(db, name))!;
}

export async function readCursor(db: Queryable, name: string): Promise<SinkCursor | undefined> {
  const row = await db.get<CursorRow>('SELECT * FROM audit_sink_cursors WHERE name = ?', [name]);
  return row === undefined ? undefined : fromRow(row);
}

export async function listCursors(db: Queryable): Promise<SinkCursor[]> {
  return (await db.all<CursorRow>('SELECT * FROM audit_sink_cursors ORDER BY name')).map(fromRow);
}

/**
 * Moves the cursor from `from` to `to` after a delivery, and marks it up. Conditional on the
 * position still being `from`: a node that lost its claim cannot move a cursor another node moved.
 * Resolves whether it moved.
 */
export async function advanceCursor(db: Queryable, name: string, from: number, to: number, count: number, now: number): Promise<boolean> {
  const result = await db.run(
    `UPDATE audit_sink_cursors SET position = ?, state = 'up', failures = 0, next_attempt_at = 0, down_since = NULL,
       last_error = NULL, delivered = delivered + ?, updated_at = ?
     WHERE name = ? AND position = ?`,
    [to, count, now, name, from],
  );
  return result.changes === 1;
}

/**
 * Records a failed delivery: down (since `now` unless already), the error, the next attempt.
 * Resolves `true` when this failure took the cursor from up to down.
 */
export async function failCursor(db: Queryable, name: string, error: string, nextAttemptAt: number, now: number): Promise<boolean> {
  const wentDown = await db.run("UPDATE audit_sink_cursors SET state = 'down', down_since = ? WHERE name = ? AND state = 'up'", [now, name]);
  await db.run(
    `UPDATE audit_sink_cursors SET failures = failures + 1, next_attempt_at = ?, last_error = ?, updated_at = ?
     WHERE name = ?`,
    [nextAttemptAt, error.slice(0, 500), now, name],
  );
  return wentDown.changes === 1;
}

/** Makes a down cursor due now (an operator's "retry now"). Resolves whether it exists. */
export async function retryCursorNow(db: Queryable, name: string, now: number): Promise<boolean> {
  return (await db.run('UPDATE audit_sink_cursors SET next_attempt_at = 0, updated_at = ? WHERE name = ?', [now, name])).changes === 1;
}

/**
 * Moves the cursor `name` to `position` (an operator's new start: back to replay, ahead to skip),
 * due at once; a delivery in flight from the old position then cannot move it (see
 * {@link advanceCursor}). Resolves whether it exists.
 */
export async function moveCursor(db: Queryable, name: string, position: number, now: number): Promise<boolean> {
  return (await db.run('UPDATE audit_sink_cursors SET position = ?, next_attempt_at = 0, updated_at = ? WHERE name = ?', [position, now, name])).changes === 1;
}

/** Deletes the cursor `name` (its sink was removed); resolves whether there was one. */
export async function deleteCursor(db: Queryable, name: string): Promise<boolean> {
  return (await db.run('DELETE FROM audit_sink_cursors WHERE name = ?', [name])).changes === 1;
}
