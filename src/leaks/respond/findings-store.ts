import type { Queryable, Transaction } from '../../store/port.js';
import { MAX_SIGHTINGS, type FindingStatus, type FindingView, type PlaceView, type Sighting, type SightingVia } from './finding.js';

/**
 * The findings store: the only module whose SQL names `leak_findings` and `leak_sightings`.
 * One row per secret (by fingerprint, never the secret) and up to {@link MAX_SIGHTINGS} places
 * per secret. Writers take the caller's transaction, so a finding, its places, the action on the
 * key and the event commit together.
 */

/** A recorded finding, as the responder works with it. */
export interface FindingRecord {
  readonly id: string;
  readonly fingerprint: string;
  readonly kind: string;
  readonly rule: string;
  readonly keyId: string | null;
  readonly principal: string | null;
  readonly status: FindingStatus;
}

interface FindingRow {
  id: string;
  fingerprint: string;
  kind: string;
  rule: string;
  key_id: string | null;
  principal_id: string | null;
  status: FindingStatus;
  sightings: number | string;
  first_seen: number | string;
  last_seen: number | string;
}

interface SightingRow {
  via: SightingVia;
  source: string | null;
  file: string | null;
  line: number | null;
  col: number | null;
  commit_id: string | null;
  url: string | null;
  watch_id: string | null;
  first_seen: number | string;
  last_seen: number | string;
}

function record(row: FindingRow): FindingRecord {
  return { id: row.id, fingerprint: row.fingerprint, kind: row.kind, rule: row.rule, keyId: row.key_id, principal: row.principal_id, status: row.status };
}

function findingView(row: FindingRow): FindingView {
  return {
    id: row.id,
    fingerprint: row.fingerprint,
    kind: row.kind,
    rule: row.rule,
    status: row.status,
    keyId: row.key_id,
    principal: row.principal_id,
    sightings: Number(row.sightings),
    firstSeen: new Date(Number(row.first_seen)).toISOString(),
    lastSeen: new Date(Number(row.last_seen)).toISOString(),
  };
}

function placeView(row: SightingRow): PlaceView {
  return {
    via: row.via,
    ...(row.source === null ? {} : { source: row.source }),
    ...(row.file === null ? {} : { file: row.file }),
    ...(row.line === null ? {} : { line: Number(row.line) }),
    ...(row.col === null ? {} : { column: Number(row.col) }),
    ...(row.commit_id === null ? {} : { commit: row.commit_id }),
    ...(row.url === null ? {} : { url: row.url }),
    ...(row.watch_id === null ? {} : { watchId: row.watch_id }),
    firstSeen: new Date(Number(row.first_seen)).toISOString(),
    lastSeen: new Date(Number(row.last_seen)).toISOString(),
  };
}

/** The finding recorded for `fingerprint`, if any. */
export async function findingByFingerprint(db: Queryable, fingerprint: string): Promise<FindingRecord | undefined> {
  // By the unique fingerprint: a secret is recorded once.
  const row = await db.get<FindingRow>('SELECT * FROM leak_findings WHERE fingerprint = ?', [fingerprint]);
  return row && record(row);
}

/**
 * Records a new finding seen first at `now`, with no places yet. Resolves to `false` when the
 * fingerprint is already recorded (another node won the race): the caller must then not act.
 */
export async function insertFinding(tx: Transaction, finding: FindingRecord, now: number): Promise<boolean> {
  // ON CONFLICT: when two nodes record the same secret at once, exactly one inserts and acts.
  const inserted = await tx.run(
    `INSERT INTO leak_findings (id, fingerprint, kind, rule, key_id, principal_id, status, sightings, first_seen, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (fingerprint) DO NOTHING`,
    [finding.id, finding.fingerprint, finding.kind, finding.rule, finding.keyId, finding.principal, finding.status, now, now],
  );
  return inserted.changes === 1;
}

/**
 * Adds the places of one report to a finding (keyed by place, see `placeKey`): new places while
 * there is room under {@link MAX_SIGHTINGS}, known ones only move their `last_seen`; then the
 * finding's count and `last_seen` follow.
 */
export async function addSightings(tx: Transaction, findingId: string, places: ReadonlyMap<string, Sighting>, now: number): Promise<void> {
  const before = await tx.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM leak_sightings WHERE finding_id = ?', [findingId]);
  let room = MAX_SIGHTINGS - Number(before?.n ?? 0);
  for (const [place, s] of places) {
    if (room <= 0) {
      // Full: a known place is still seen again; an unknown one is not kept.
      await tx.run('UPDATE leak_sightings SET last_seen = ? WHERE finding_id = ? AND place = ?', [now, findingId, place]);
      continue;
    }
    const inserted = await tx.run(
      `INSERT INTO leak_sightings (finding_id, place, via, source, file, line, col, commit_id, url, watch_id, first_seen, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (finding_id, place) DO UPDATE SET last_seen = excluded.last_seen`,
      [findingId, place, s.via, s.source ?? null, s.file ?? null, s.line ?? null, s.column ?? null, s.commit ?? null, s.url ?? null, s.watchId ?? null, now, now],
    );
    if (inserted.changes > 0) room--;
  }
  const after = await tx.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM leak_sightings WHERE finding_id = ?', [findingId]);
  await tx.run('UPDATE leak_findings SET last_seen = ?, sightings = ? WHERE id = ?', [now, Number(after?.n ?? 0), findingId]);
}

/** What {@link listFindings} filters on; `after` is the last id of the previous page. */
export interface FindingsFilter {
  readonly status?: FindingStatus | undefined;
  readonly key?: string | undefined;
  readonly limit?: number | undefined;
  readonly after?: string | undefined;
}

/** Findings in id order, one page (100 by default). */
export async function listFindings(db: Queryable, filter: FindingsFilter): Promise<FindingView[]> {
  const where = ['id > ?'];
  const params: (string | number)[] = [filter.after ?? ''];
  if (filter.status) {
    where.push('status = ?');
    params.push(filter.status);
  }
  if (filter.key) {
    where.push('key_id = ?');
    params.push(filter.key);
  }
  params.push(filter.limit ?? 100);
  const rows = await db.all<FindingRow>(`SELECT * FROM leak_findings WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, params);
  return rows.map(findingView);
}

/** One finding with the places it was seen, newest first; `undefined` when there is none. */
export async function findingWithPlaces(db: Queryable, id: string): Promise<FindingView | undefined> {
  const row = await db.get<FindingRow>('SELECT * FROM leak_findings WHERE id = ?', [id]);
  if (!row) return undefined;
  const places = await db.all<SightingRow>('SELECT * FROM leak_sightings WHERE finding_id = ? ORDER BY last_seen DESC, place LIMIT ?', [id, MAX_SIGHTINGS]);
  return { ...findingView(row), places: places.map(placeView) };
}
