import type { Queryable, Transaction } from '../../store/port.js';
import { MAX_SIGHTINGS, type CredentialRef, type CredentialType, type FindingStatus, type FindingView, type HeldReason, type PlaceView, type Sighting, type SightingVia } from './finding.js';
import { untrustedText } from './untrusted.js';

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
  /** The keyturn credential it is (`keyId` is its id too when it is an API key). */
  readonly credential: CredentialRef | null;
  readonly held: HeldReason | null;
  /** When it was acknowledged (ms), `null` while open. */
  readonly acknowledgedAt: number | null;
}

/** Stored status: `held` is kept as `inactive` with `held` set (the CHECK of 0021 cannot be widened on SQLite). */
type StoredStatus = Exclude<FindingStatus, 'held'>;

interface FindingRow {
  id: string;
  fingerprint: string;
  kind: string;
  rule: string;
  key_id: string | null;
  principal_id: string | null;
  status: StoredStatus;
  credential_type: CredentialType | null;
  credential_id: string | null;
  held: HeldReason | null;
  acknowledged_at: number | string | null;
  acknowledged_by: string | null;
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

function statusOf(row: FindingRow): FindingStatus {
  return row.held ? 'held' : row.status;
}

function credentialOf(row: FindingRow): CredentialRef | null {
  return row.credential_type && row.credential_id ? { type: row.credential_type, id: row.credential_id } : null;
}

function record(row: FindingRow): FindingRecord {
  return {
    id: row.id,
    fingerprint: row.fingerprint,
    kind: row.kind,
    rule: row.rule,
    keyId: row.key_id,
    principal: row.principal_id,
    status: statusOf(row),
    credential: credentialOf(row),
    held: row.held,
    acknowledgedAt: row.acknowledged_at === null ? null : Number(row.acknowledged_at),
  };
}

function findingView(row: FindingRow): FindingView {
  return {
    id: row.id,
    fingerprint: row.fingerprint,
    kind: row.kind,
    rule: row.rule,
    status: statusOf(row),
    keyId: row.key_id,
    principal: row.principal_id,
    credential: credentialOf(row),
    held: row.held,
    acknowledged: row.acknowledged_at === null ? null : { at: new Date(Number(row.acknowledged_at)).toISOString(), by: row.acknowledged_by },
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
    // A public reporter's URL is shown as defanged text only (older rows were stored as given).
    ...(row.url === null ? {} : row.via === 'report' ? { untrustedUrl: untrustedText(row.url) } : { url: row.url }),
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
    `INSERT INTO leak_findings (id, fingerprint, kind, rule, key_id, principal_id, status, credential_type, credential_id, held, sightings, first_seen, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (fingerprint) DO NOTHING`,
    [
      finding.id, finding.fingerprint, finding.kind, finding.rule, finding.keyId, finding.principal, stored(finding.status),
      finding.credential?.type ?? null, finding.credential?.id ?? null, finding.held, now, now,
    ],
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
      [findingId, place, s.via, s.source ?? null, s.file ?? null, s.line ?? null, s.column ?? null, s.commit ?? null, s.url ?? s.untrustedUrl ?? null, s.watchId ?? null, now, now],
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
  if (filter.status === 'held') where.push('held IS NOT NULL');
  else if (filter.status) {
    where.push('status = ? AND held IS NULL');
    params.push(filter.status);
  }
  if (filter.key) {
    // Any credential's id: an API key's id is both its key_id and its credential_id.
    where.push('credential_id = ?');
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

function stored(status: FindingStatus): StoredStatus {
  return status === 'held' ? 'inactive' : status;
}

/**
 * Locks the finding `id` for the rest of `tx` (a write to its row: PostgreSQL takes the row lock,
 * SQLite has one writer) and reads it again: concurrent sightings of one secret are then
 * re-evaluated one after another, each seeing what the previous one did.
 */
export async function lockFinding(tx: Transaction, id: string): Promise<FindingRecord | undefined> {
  await tx.run('UPDATE leak_findings SET sightings = sightings WHERE id = ?', [id]);
  const row = await tx.get<FindingRow>('SELECT * FROM leak_findings WHERE id = ?', [id]);
  return row && record(row);
}

/**
 * Records what a new sighting found the credential to be and did: its status, the credential and
 * principal, why it was held. `reopen` clears an acknowledgement (the leak was seen again).
 */
export async function updateFindingResponse(
  tx: Transaction,
  id: string,
  update: { status: FindingStatus; credential: CredentialRef | null; principal: string | null; held: HeldReason | null; reopen: boolean },
): Promise<void> {
  const keyId = update.credential?.type === 'api_key' ? update.credential.id : null;
  await tx.run(
    `UPDATE leak_findings SET status = ?, held = ?, credential_type = ?, credential_id = ?, key_id = COALESCE(?, key_id), principal_id = COALESCE(?, principal_id)${
      update.reopen ? ', acknowledged_at = NULL, acknowledged_by = NULL' : ''
    } WHERE id = ?`,
    [stored(update.status), update.held, update.credential?.type ?? null, update.credential?.id ?? null, keyId, update.principal, id],
  );
}

/** Ids of the findings of API key `keyId` that nobody has acknowledged yet (open), oldest first. */
export async function openFindingsOfKey(db: Queryable, keyId: string): Promise<string[]> {
  const rows = await db.all<{ id: string }>('SELECT id FROM leak_findings WHERE key_id = ? AND acknowledged_at IS NULL ORDER BY id', [keyId]);
  return rows.map((r) => r.id);
}

/** Ids of the findings of the `type` credential `id` (e.g. a client's secret) that nobody has acknowledged yet (open), oldest first. */
export async function openFindingsOfCredential(db: Queryable, type: CredentialType, id: string): Promise<readonly string[]> {
  const rows = await db.all<{ id: string }>('SELECT id FROM leak_findings WHERE credential_type = ? AND credential_id = ? AND acknowledged_at IS NULL ORDER BY id', [type, id]);
  return rows.map((r) => r.id);
}

/** Marks the findings `ids` acknowledged at `now` by `by` (a principal id, or `null`). */
export async function acknowledgeFindings(tx: Transaction, ids: readonly string[], by: string | null, now: number): Promise<void> {
  for (const id of ids) await tx.run('UPDATE leak_findings SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND acknowledged_at IS NULL', [now, by, id]);
}
