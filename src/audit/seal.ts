/**
 * The leaves of the tamper-evident log (see `log.ts`): the canonical text and RFC 9162 leaf hash of
 * a record, and {@link collectLeaves}, the read-only part of sealing a checkpoint — reading the
 * records after the last checkpoint and hashing them into its tree. It takes only a
 * {@link Queryable}, so an SQLite store runs it on its reader thread with a connection of its own
 * (`SqliteStore.readOffThread`): on the token endpoint reading and hashing each event back was
 * the event loop's largest cost after HTTP and SQLite's writes.
 */
import { KeyturnError } from '../core/errors.js';
import type { Queryable } from '../store/port.js';
import { readLog, type AuditEvent } from './events.js';
import { canonicalJson } from './formats/record.js';
import { leafHashOfText, MerkleAccumulator } from './merkle.js';

/** The event type a checkpoint is recorded as. */
export const CHECKPOINT_EVENT = 'audit.checkpoint';

/** Rows read per query while sealing or verifying. */
export const PAGE = 2_000;

/**
 * The bytes of a record as a Merkle leaf: the UTF-8 of the RFC 8785 canonical JSON of the event as
 * stored and as `GET /v1/events` returns it (`seq`, `id`, `time`, `type`, `actor`, `target`,
 * `outcome`, `reason`, `sourceIp`, `requestId`, `data`). Derived fields (severity, OCSF class) are
 * not part of it, so a later release that re-classifies a type does not change old leaves.
 *
 * @example
 * ```ts
 * const leaf = leafHash(logRecordBytes(event));
 * ```
 */
export function logRecordBytes(event: AuditEvent): Uint8Array {
  return new TextEncoder().encode(logRecordText(event));
}

/**
 * The canonical JSON text of a record, written directly: the record's member names are fixed, so
 * their RFC 8785 order is too (`actor`, `data`, `id`, `outcome`, `reason`, `requestId`, `seq`,
 * `sourceIp`, `target`, `time`, `type`), and only `data` goes through the general
 * {@link canonicalJson}. The same text as `canonicalJson` of the record (a test holds them equal),
 * without building the canonical record, sorting its members or looking its type up in the
 * catalogue: the checkpointer hashes every event once.
 */
export function logRecordText(event: AuditEvent): string {
  const { seq, id, time, type, actor, target, outcome, reason, sourceIp, requestId, data } = event;
  // Anything but text, null and a finite seq (only a hand-made record): the general path decides.
  if (
    !(typeof seq === 'number' && Number.isFinite(seq)) ||
    !plain(id) || !plain(time) || !plain(type) || !plain(actor) || !plain(target) || !plain(outcome) || !plain(reason) || !plain(sourceIp) || !plain(requestId)
  ) {
    return canonicalJson({ seq, id, time, type, actor, target, outcome, reason, sourceIp, requestId, data });
  }
  return (
    `{"actor":${JSON.stringify(event.actor)},"data":${canonicalJson(event.data)},"id":${JSON.stringify(event.id)}` +
    `,"outcome":${JSON.stringify(event.outcome)},"reason":${JSON.stringify(event.reason)},"requestId":${JSON.stringify(event.requestId)}` +
    `,"seq":${JSON.stringify(event.seq)},"sourceIp":${JSON.stringify(event.sourceIp)},"target":${JSON.stringify(event.target)}` +
    `,"time":${JSON.stringify(event.time)},"type":${JSON.stringify(event.type)}}`
  );
}

const plain = (value: unknown): boolean => value === null || typeof value === 'string';

/** The RFC 9162 leaf hash of one record (its text hashed as UTF-8 without an intermediate copy). */
export function recordLeaf(event: AuditEvent): Uint8Array {
  return leafHashOfText(logRecordText(event));
}


/** Where sealing starts: after the last checkpoint (its size and right edge, hex) or the tree's start. */
export interface SealFrom {
  readonly afterSeq: number;
  readonly baseSeq: number;
  readonly size: number;
  readonly edge: readonly string[];
  /** Most records to seal. */
  readonly max: number;
}

/** What {@link collectLeaves} read and hashed: plain data, so it crosses threads as it is. */
export interface CollectedLeaves {
  /** `[idx, seq, event id, hex leaf hash]` per record, in order. */
  readonly leaves: [number, number, string, string][];
  /** The tree after them: size, right edge (hex), root. */
  readonly size: number;
  readonly edge: string[];
  readonly root: Uint8Array;
  /** The last sequence number sealed. */
  readonly afterSeq: number;
  /** Whether any record but a checkpoint event is among them (else nothing needs sealing). */
  readonly fresh: boolean;
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * Reads the records after `from.afterSeq` (at most `from.max`, in pages) and hashes each into the
 * tree `from` describes. Refuses (`ERR_INTERNAL`) a record that cannot be read as an event and a
 * gap in the sequence after `baseSeq`: those are for `keyturn audit verify` to name, never to seal.
 */
export async function collectLeaves(db: Queryable, from: SealFrom): Promise<CollectedLeaves> {
  const acc = new MerkleAccumulator({ size: from.size, edge: from.edge.map((h) => new Uint8Array(Buffer.from(h, 'hex'))) });
  let afterSeq = from.afterSeq;
  const leaves: [number, number, string, string][] = [];
  let fresh = false;
  while (leaves.length < from.max) {
    const rows = await readLog(db, afterSeq, Math.min(PAGE, from.max - leaves.length));
    for (const row of rows) {
      if (!('event' in row)) throw new KeyturnError('ERR_INTERNAL', `audit record seq ${row.seq} is unreadable (${row.unreadable}): run keyturn audit verify`);
      if (row.seq > from.baseSeq && afterSeq >= from.baseSeq && row.seq !== afterSeq + 1) {
        throw new KeyturnError('ERR_INTERNAL', `audit records after seq ${afterSeq} are missing: run keyturn audit verify`);
      }
      const hash = recordLeaf(row.event);
      leaves.push([acc.size, row.seq, row.id, hexOf(hash)]);
      acc.append(hash);
      if (row.event.type !== CHECKPOINT_EVENT) fresh = true;
      afterSeq = row.seq;
    }
    if (rows.length < PAGE) break;
    // Let other work in between pages: hashing a page is CPU on this thread.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { leaves, size: acc.size, edge: acc.state().edge.map(hexOf), root: acc.root(), afterSeq, fresh };
}
