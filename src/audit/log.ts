/**
 * The tamper-evident audit log: the events, in `seq` order, are the leaves of an RFC 9162 Merkle
 * tree (one leaf per record, its bytes the RFC 8785 canonical JSON of the record as stored); a
 * checkpointer seals the records appended since the last checkpoint, signs a C2SP checkpoint of the
 * new tree head with the deployment's Ed25519 log key, stores it with the right edge of its tree,
 * and records it as an `audit.checkpoint` event of its own (so sinks and SIEMs receive it).
 * {@link verifyLog} recomputes everything from the stored rows and names the first record that was
 * modified, deleted, inserted or moved.
 *
 * Ownership: this file is the only SQL that names `audit_leaves` and `audit_checkpoints`; it reads
 * the events through `events.ts` (`readLog`), and hashes them with `seal.ts` — on the store's
 * reader thread when the store has one (SQLite), so the event loop only stores the leaves.
 */
import { createHash } from 'node:crypto';
import type { Context } from '../core/context.js';
import { deriveKey } from '../core/fingerprint.js';
import type { Queryable, Store } from '../store/port.js';
import { appendEvent, deleteEventsThrough, logHead, readLog, SYSTEM, type EventRetention, type LoggedRow } from './events.js';
import {
  checkpointTime,
  ed25519Signer,
  parseVerifierKey,
  signCheckpoint,
  timeExtension,
  verifierKeyOf,
  verifyCheckpoint,
  type NoteSigner,
  type NoteVerifier,
} from './checkpoint.js';
import { equalHashes, HASH_SIZE, MerkleAccumulator } from './merkle.js';
import { CHECKPOINT_EVENT, collectLeaves, PAGE, recordLeaf, type CollectedLeaves, type SealFrom } from './seal.js';

export { CHECKPOINT_EVENT, logRecordBytes, recordLeaf } from './seal.js';
/**
 * Most records one checkpoint seals: a backlog is sealed in several checkpoints, never one long
 * read, and the transaction storing the leaves holds SQLite's one writer (and this event loop) for
 * a bounded time — a restart with 100,000 unsealed events must not starve verification.
 */
const MAX_PER_CHECKPOINT = 5_000;
/** Leaves per INSERT (4 parameters each: well under SQLite's and PostgreSQL's limits). */
const LEAF_BATCH = 250;
/** The module whose `collectLeaves` a store's reader thread runs. */
const SEAL_MODULE = new URL('./seal.js', import.meta.url).href;

/** The deployment's checkpoint key: signer, log origin and the verifier key third parties keep. */
export interface LogKey {
  readonly origin: string;
  readonly signer: NoteSigner;
  readonly verifier: NoteVerifier;
  /** `<origin>+<hex key ID>+<base64 key>`: what a witness or a security team keeps to check checkpoints. */
  readonly vkey: string;
}

/**
 * The checkpoint signing key, derived from the master key (HKDF label `audit-checkpoints/v1`) as
 * an Ed25519 seed. It is kept with the deployment like the master key itself and never stored in
 * the database, so whoever holds only the database cannot sign a rewritten history. It is not an
 * OAuth signing key: those rotate on a schedule and sign tokens; this one names the log for good.
 * The log's origin (also the key name) is `origin` when configured, else
 * `keyturn/audit/<16 hex digits of SHA-256 of the public key>`.
 */
export function logKeyFromMaster(masterKey: Uint8Array, origin?: string): LogKey {
  const seed = deriveKey(masterKey, 'audit-checkpoints/v1');
  const provisional = ed25519Signer('keyturn', seed);
  const name = origin ?? `keyturn/audit/${createHash('sha256').update(provisional.publicKey).digest('hex').slice(0, 16)}`;
  const signer = ed25519Signer(name, seed);
  const vkey = verifierKeyOf(name, signer.publicKey);
  return { origin: name, signer, verifier: parseVerifierKey(vkey), vkey };
}

interface CheckpointRow {
  size: number | string;
  last_seq: number | string;
  root: string;
  edge: string;
  note: string;
  time: number | string;
}

interface LeafRow {
  idx: number | string;
  seq: number | string;
  event_id: string;
  hash: string;
}

/** A stored checkpoint as the API and the CLI show it. */
export interface CheckpointView {
  readonly size: number;
  readonly lastSeq: number;
  /** Base64 root hash, as in the note. */
  readonly root: string;
  readonly time: string;
  /** The signed note (c2sp.org/tlog-checkpoint). */
  readonly note: string;
}

function viewOf(row: CheckpointRow): CheckpointView {
  return { size: Number(row.size), lastSeq: Number(row.last_seq), root: row.root, time: new Date(Number(row.time)).toISOString(), note: row.note };
}

const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

function edgeOf(row: CheckpointRow): MerkleAccumulator {
  const edge = (JSON.parse(row.edge) as string[]).map(fromHex);
  return new MerkleAccumulator({ size: Number(row.size), edge });
}

/** Options of the {@link AuditLog}. */
export interface AuditLogOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly key: LogKey;
}

/**
 * Seals the log into signed checkpoints and prunes it without breaking verification.
 *
 * @example
 * ```ts
 * const log = new AuditLog({ store, ctx, key: logKeyFromMaster(masterKey) });
 * await log.checkpoint(); // signs the records appended since the last checkpoint, if any
 * ```
 */
export class AuditLog {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #key: LogKey;

  constructor(options: AuditLogOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#key = options.key;
  }

  get origin(): string {
    return this.#key.origin;
  }

  get vkey(): string {
    return this.#key.vkey;
  }

  /** The newest stored checkpoint, if any. */
  async latest(): Promise<CheckpointView | undefined> {
    const row = await this.#store.get<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY size DESC LIMIT 1');
    return row ? viewOf(row) : undefined;
  }

  /** Stored checkpoints, newest first. */
  async list(limit = 100): Promise<CheckpointView[]> {
    const rows = await this.#store.all<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY size DESC LIMIT ?', [Math.min(Math.max(limit, 1), 1000)]);
    return rows.map(viewOf);
  }

  /**
   * Seals the records appended since the last checkpoint (at most {@link MAX_PER_CHECKPOINT}): their
   * leaves are stored, the new tree head is signed, stored with its right edge, and recorded as an
   * `audit.checkpoint` event — all in one transaction. Nothing happens when no record but earlier
   * checkpoint events is new. Safe on several nodes at once: committed events always form a prefix
   * of the sequence (see `appendEvent`), so two sealers hash the same leaves; a checkpoint of a size
   * already stored is not stored twice.
   */
  async checkpoint(): Promise<CheckpointView | undefined> {
    const last = await this.#store.get<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY size DESC LIMIT 1');
    const from: SealFrom = {
      afterSeq: last ? Number(last.last_seq) : await this.#firstTreeSeq(),
      baseSeq: (await logHead(this.#store)).baseSeq,
      size: last ? Number(last.size) : 0,
      edge: last ? (JSON.parse(last.edge) as string[]) : [],
      max: MAX_PER_CHECKPOINT,
    };
    // Reading the records back and hashing them is CPU: on the store's reader thread when it has one.
    const collected: CollectedLeaves = this.#store.readOffThread
      ? await this.#store.readOffThread<SealFrom, CollectedLeaves>({ module: SEAL_MODULE, name: 'collectLeaves', input: from })
      : await collectLeaves(this.#store, from);
    const { leaves, afterSeq, fresh } = collected;
    if (!fresh) return undefined;
    const now = this.#ctx.now();
    const size = collected.size;
    const rootText = Buffer.from(collected.root).toString('base64');
    const note = signCheckpoint({ origin: this.#key.origin, size, root: collected.root, extensions: [timeExtension(now)] }, [this.#key.signer]);
    const edge = JSON.stringify(collected.edge);
    return this.#store.transaction(async (tx) => {
      // Multi-row inserts: one round trip per LEAF_BATCH leaves, not per leaf.
      for (let at = 0; at < leaves.length; at += LEAF_BATCH) {
        const batch = leaves.slice(at, at + LEAF_BATCH);
        await tx.run(
          `INSERT INTO audit_leaves (idx, seq, event_id, hash) VALUES ${batch.map(() => '(?, ?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING`,
          batch.flat(),
        );
      }
      const inserted = await tx.run(
        'INSERT INTO audit_checkpoints (size, last_seq, root, edge, note, time) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [size, afterSeq, rootText, edge, note, now.getTime()],
      );
      if (inserted.changes === 0) return undefined;
      await appendEvent(
        tx,
        this.#ctx,
        { type: CHECKPOINT_EVENT, target: this.#key.origin, outcome: 'success', data: { size, lastSeq: afterSeq, root: rootText, note } },
        SYSTEM,
      );
      return { size, lastSeq: afterSeq, root: rootText, time: now.toISOString(), note };
    });
  }

  /** Where the tree starts when no checkpoint exists: before the first stored record. */
  async #firstTreeSeq(): Promise<number> {
    const first = await readLog(this.#store, 0, 1);
    return first.length === 0 ? 0 : (first[0] as LoggedRow).seq - 1;
  }

  /**
   * Deletes events beyond the retention, but only records sealed by a stored checkpoint, and only
   * up to the end of one: what remains starts where a checkpoint's tree ends, whose stored right
   * edge (authenticated by its signed root) lets {@link verifyLog} continue from there. The leaves
   * of deleted records go with them; checkpoints are kept.
   */
  async prune(retention: EventRetention, maxBatches?: number): Promise<{ deleted: number; more: boolean }> {
    if (retention.maxAgeMs <= 0 && retention.maxCount <= 0) return { deleted: 0, more: false };
    const { seq: head } = await logHead(this.#store);
    const countCut = retention.maxCount > 0 ? head - retention.maxCount : -1;
    const ageCut = retention.maxAgeMs > 0 ? this.#ctx.now().getTime() - retention.maxAgeMs : -1;
    // The newest checkpoint all of whose records are beyond the count, or that was signed before the
    // age cut (its records are older than it): everything it seals may go, and nothing after it.
    const row = await this.#store.get<{ size: number | string | null; last_seq: number | string | null }>(
      'SELECT size, last_seq FROM audit_checkpoints WHERE last_seq <= ? OR time < ? ORDER BY size DESC LIMIT 1',
      [countCut, ageCut],
    );
    if (row?.last_seq == null) return { deleted: 0, more: false };
    const result = await deleteEventsThrough(this.#store, Number(row.last_seq), maxBatches);
    // Their leaves go once the records are gone; the checkpoint (with its right edge) stays.
    if (!result.more) await this.#store.run('DELETE FROM audit_leaves WHERE idx < ?', [Number(row.size)]);
    return result;
  }
}

/** What kind of damage {@link verifyLog} found. */
export type LogProblemKind =
  /** A record's content differs from what was sealed. */
  | 'modified'
  /** A sealed record is gone. */
  | 'deleted'
  /** A sealed record is stored at another position. */
  | 'reordered'
  /** A record that was never sealed sits among sealed ones, or the sequence has a gap. */
  | 'inserted'
  | 'gap'
  /** A record cannot be read as an event at all. */
  | 'unreadable'
  /** A checkpoint's signature, origin or head does not hold, or the records do not reproduce it. */
  | 'checkpoint'
  /** The stored leaves do not reproduce a checkpoint: the leaf table was altered. */
  | 'leaves'
  /** Records before the oldest remaining one were removed without a checkpoint at their end. */
  | 'truncated';

export interface LogProblem {
  readonly kind: LogProblemKind;
  /** The sequence number concerned, when one is. */
  readonly seq: number | null;
  /** The event id concerned, when one is known. */
  readonly id: string | null;
  readonly detail: string;
}

/** The result of {@link verifyLog}. */
export interface LogReport {
  readonly ok: boolean;
  /** Records read. */
  readonly records: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  /** Checkpoints whose signature verified. */
  readonly checkpoints: number;
  /** Size of the newest checkpoint the records reproduce. */
  readonly sealedSize: number;
  /** Records after the newest checkpoint (checked for order and gaps only, sealed by the next one). */
  readonly unsealed: number;
  /** External checkpoints (`--checkpoint`) the records reproduce. */
  readonly external: number;
  /** Problems in log order; the first is the first damaged record. At most 100 are kept. */
  readonly problems: readonly LogProblem[];
}

export interface VerifyLogOptions {
  readonly origin: string;
  readonly verifiers: readonly NoteVerifier[];
  /** Signed checkpoints kept outside keyturn (a sink, a file, a witness): the records must reproduce each. */
  readonly external?: readonly string[];
}

const MAX_PROBLEMS = 100;

/**
 * Recomputes the whole log from the stored rows: every checkpoint's signature (by one of
 * `verifiers`, for `origin`), every remaining record's leaf against the sealed leaf at its
 * position, every checkpoint's root from the recomputed leaves and from the stored leaves, the
 * start of the remaining records at a checkpoint's right edge, and the gap-free order of the rest.
 * `ok` only when nothing is wrong. Reads in pages; memory is O(checkpoints + log n).
 *
 * @example
 * ```ts
 * const report = await verifyLog(store, { origin: key.origin, verifiers: [key.verifier] });
 * if (!report.ok) console.error(report.problems[0]);
 * ```
 */
export async function verifyLog(db: Queryable, options: VerifyLogOptions): Promise<LogReport> {
  const problems: LogProblem[] = [];
  const problem = (p: LogProblem): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };

  // 1. Checkpoints: each signed by a known key for this origin, its stored columns equal to its note.
  const rows = await db.all<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY size');
  const bySize = new Map<number, { row: CheckpointRow; root: Uint8Array }>();
  let signed = 0;
  for (const row of rows) {
    const size = Number(row.size);
    const result = verifyCheckpoint(row.note, { origin: options.origin, verifiers: options.verifiers });
    if (!result.ok) {
      problem({ kind: 'checkpoint', seq: Number(row.last_seq), id: null, detail: `checkpoint of size ${size}: ${result.reason} (${result.detail})` });
      continue;
    }
    const cp = result.checkpoint;
    if (cp.size !== size || Buffer.from(cp.root).toString('base64') !== row.root || checkpointTime(cp) === undefined) {
      problem({ kind: 'checkpoint', seq: Number(row.last_seq), id: null, detail: `checkpoint of size ${size}: its stored size, root or time differs from its signed note` });
      continue;
    }
    signed += 1;
    bySize.set(size, { row, root: cp.root });
  }
  const external = new Map<number, Uint8Array[]>();
  for (const [i, note] of (options.external ?? []).entries()) {
    const result = verifyCheckpoint(note, { origin: options.origin, verifiers: options.verifiers });
    if (!result.ok) {
      problem({ kind: 'checkpoint', seq: null, id: null, detail: `external checkpoint #${i + 1}: ${result.reason} (${result.detail})` });
      continue;
    }
    const list = external.get(result.checkpoint.size) ?? [];
    list.push(result.checkpoint.root);
    external.set(result.checkpoint.size, list);
  }

  // 2. Where the remaining records start: at leaf 0, or at the end of a checkpoint's tree.
  const { baseSeq, seq: headSeq } = await logHead(db);
  const firstLeaf = await db.get<LeafRow>('SELECT * FROM audit_leaves ORDER BY idx LIMIT 1');
  const firstRows = await readLog(db, 0, 1);
  const firstRecord = firstRows[0];
  let acc = new MerkleAccumulator();
  let leavesAcc = new MerkleAccumulator();
  let startIdx = firstLeaf ? Number(firstLeaf.idx) : 0;
  let afterSeq = firstRecord ? firstRecord.seq - 1 : 0;
  if (firstLeaf && startIdx > 0) {
    const start = bySize.get(startIdx);
    if (!start) {
      problem({ kind: 'truncated', seq: Number(firstLeaf.seq), id: firstLeaf.event_id, detail: `the records before leaf ${startIdx} are gone and no valid checkpoint ends there` });
    } else {
      const restored = edgeOf(start.row);
      if (!equalHashes(restored.root(), start.root)) {
        problem({ kind: 'checkpoint', seq: Number(start.row.last_seq), id: null, detail: `checkpoint of size ${startIdx}: its stored right edge does not give its signed root` });
      }
      acc = restored;
      leavesAcc = edgeOf(start.row);
      afterSeq = Number(start.row.last_seq);
    }
  } else if (!firstLeaf && bySize.size > 0) {
    // Checkpoints exist but no leaf does: the sealed records were all deleted with their leaves.
    const newest = [...bySize.values()].at(-1) as { row: CheckpointRow };
    const cpSeq = Number(newest.row.last_seq);
    if (!firstRecord || firstRecord.seq <= cpSeq) {
      problem({ kind: 'deleted', seq: firstRecord?.seq ?? null, id: null, detail: `the leaves of checkpoint ${Number(newest.row.size)} are gone` });
    } else {
      const restored = edgeOf(newest.row);
      acc = restored;
      leavesAcc = edgeOf(newest.row);
      startIdx = restored.size;
      afterSeq = cpSeq;
    }
  }
  // Records left below where the tree restarts (a prune cut short) are skipped: `readLog` starts after it.

  // 3. Walk the records and the sealed leaves together, in order.
  let records = 0;
  let sealedSize = startIdx > 0 && bySize.has(startIdx) ? startIdx : 0;
  let externalOk = 0;
  let lastSeq: number | null = null;
  let prevSeq = afterSeq;
  let leafCursor = startIdx - 1;
  let leafPage: LeafRow[] = [];
  let leafAt = 0;
  const nextLeaf = async (): Promise<LeafRow | undefined> => {
    if (leafAt >= leafPage.length) {
      leafPage = await db.all<LeafRow>('SELECT * FROM audit_leaves WHERE idx > ? ORDER BY idx LIMIT ?', [leafCursor, PAGE]);
      leafAt = 0;
      if (leafPage.length === 0) return undefined;
    }
    const leaf = leafPage[leafAt++] as LeafRow;
    leafCursor = Number(leaf.idx);
    return leaf;
  };
  const sealedAt = async (id: string): Promise<number | undefined> => {
    const row = await db.get<{ seq: number | string }>('SELECT seq FROM audit_leaves WHERE event_id = ?', [id]);
    return row ? Number(row.seq) : undefined;
  };
  const checkHeads = (): void => {
    const size = acc.size;
    const cp = bySize.get(size);
    if (cp) {
      if (!equalHashes(acc.root(), cp.root)) {
        problem({ kind: 'checkpoint', seq: Number(cp.row.last_seq), id: null, detail: `the records up to seq ${Number(cp.row.last_seq)} do not reproduce the signed checkpoint of size ${size}` });
      } else {
        sealedSize = size;
      }
      if (leavesAcc.size === size && !equalHashes(leavesAcc.root(), cp.root)) {
        problem({ kind: 'leaves', seq: Number(cp.row.last_seq), id: null, detail: `the stored leaves do not reproduce the signed checkpoint of size ${size}` });
      }
    }
    for (const root of external.get(size) ?? []) {
      if (equalHashes(acc.root(), root)) externalOk += 1;
      else problem({ kind: 'checkpoint', seq: prevSeq, id: null, detail: `the records do not reproduce the external checkpoint of size ${size}` });
    }
  };
  let leaf = await nextLeaf();
  let cursor = afterSeq;
  for (;;) {
    const page = await readLog(db, cursor, PAGE);
    for (const row of page) {
      records += 1;
      lastSeq = row.seq;
      cursor = row.seq;
      if (row.seq > baseSeq && prevSeq >= baseSeq && row.seq !== prevSeq + 1 && !(leaf && Number(leaf.seq) < row.seq)) {
        problem({ kind: 'gap', seq: prevSeq + 1, id: null, detail: `seq ${prevSeq + 1}${row.seq - prevSeq > 2 ? `–${row.seq - 1}` : ''} missing: records deleted` });
      }
      // Sealed leaves whose records are gone.
      while (leaf && Number(leaf.seq) < row.seq) {
        problem({ kind: 'deleted', seq: Number(leaf.seq), id: leaf.event_id, detail: `record seq ${Number(leaf.seq)} (${leaf.event_id}) was sealed and is gone` });
        leavesAcc.append(fromHex(leaf.hash));
        acc.append(fromHex(leaf.hash)); // keep positions aligned; the root check flags the range anyway
        checkHeads();
        leaf = await nextLeaf();
      }
      const recomputed = 'event' in row ? recordLeaf(row.event) : undefined;
      if (!('event' in row)) problem({ kind: 'unreadable', seq: row.seq, id: row.id, detail: `record seq ${row.seq} (${row.id}): ${row.unreadable}` });
      if (leaf && Number(leaf.seq) === row.seq) {
        const stored = fromHex(leaf.hash);
        if (leaf.event_id !== row.id) {
          const was = await sealedAt(row.id);
          problem(
            was === undefined
              ? { kind: 'modified', seq: row.seq, id: row.id, detail: `record seq ${row.seq} is ${row.id}; the sealed record there was ${leaf.event_id}` }
              : { kind: 'reordered', seq: row.seq, id: row.id, detail: `record ${row.id} was sealed at seq ${was} and is now at seq ${row.seq}` },
          );
        } else if (recomputed && !equalHashes(recomputed, stored)) {
          problem({ kind: 'modified', seq: row.seq, id: row.id, detail: `record seq ${row.seq} (${row.id}) differs from what was sealed` });
        }
        leavesAcc.append(stored.length === HASH_SIZE ? stored : new Uint8Array(HASH_SIZE));
        acc.append(recomputed ?? new Uint8Array(HASH_SIZE));
        checkHeads();
        leaf = await nextLeaf();
      } else if (leaf) {
        problem({ kind: 'inserted', seq: row.seq, id: row.id, detail: `record seq ${row.seq} (${row.id}) was never sealed but sits among sealed records` });
      } else {
        acc.append(recomputed ?? new Uint8Array(HASH_SIZE));
        checkHeads();
      }
      prevSeq = row.seq;
    }
    if (page.length < PAGE) break;
  }
  while (leaf) {
    problem({ kind: 'deleted', seq: Number(leaf.seq), id: leaf.event_id, detail: `record seq ${Number(leaf.seq)} (${leaf.event_id}) was sealed and is gone` });
    leaf = await nextLeaf();
  }
  // The head was committed with the last record: records after the last stored one are gone.
  const reached = lastSeq ?? afterSeq;
  if (headSeq > baseSeq && headSeq > reached && (records > 0 || bySize.size > 0)) {
    problem({ kind: 'deleted', seq: reached + 1, id: null, detail: `seq ${reached + 1}${headSeq > reached + 1 ? `–${headSeq}` : ''} missing at the end of the log: records deleted` });
  }
  // Checkpoints beyond what the records reach: the newest records are gone.
  for (const [size, cp] of bySize) {
    if (size > acc.size) {
      problem({ kind: 'deleted', seq: Number(cp.row.last_seq), id: null, detail: `checkpoint of size ${size} seals records up to seq ${Number(cp.row.last_seq)}; only ${acc.size} leaves remain` });
      break;
    }
  }
  for (const size of external.keys()) {
    if (size > acc.size) problem({ kind: 'deleted', seq: null, id: null, detail: `an external checkpoint of size ${size} is beyond the ${acc.size} records the log holds` });
  }
  problems.sort((a, b) => (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER));
  return {
    ok: problems.length === 0,
    records,
    firstSeq: firstRecord?.seq ?? null,
    lastSeq,
    checkpoints: signed,
    sealedSize,
    unsealed: Math.max(0, acc.size - sealedSize),
    external: externalOk,
    problems,
  };
}
