/**
 * The tamper-evident log end to end on both stores (issue 12 item 5): records sealed into signed
 * C2SP checkpoints that are events of their own; `verifyLog` recomputes everything and names the
 * first record edited, deleted or reordered directly in the database; pruning keeps what remains
 * verifiable.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { parseVerifierKey, verifyCheckpoint } from '../../src/audit/checkpoint.js';
import { appendEvent, listEvents } from '../../src/audit/events.js';
import { AuditLog, CHECKPOINT_EVENT, logKeyFromMaster, recordLeaf, verifyLog, type LogKey, type LogReport } from '../../src/audit/log.js';
import { leafHash, MerkleTree, verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';
import { manualContext } from '../../src/core/context.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { logRecordBytes } from '../../src/audit/log.js';

const MASTER = new Uint8Array(32).fill(7);

describeStore('the tamper-evident audit log', (kind) => {
  let handle: StoreHandle;
  let log: AuditLog;
  let key: LogKey;
  const ctx = manualContext(new Date('2026-12-05T08:00:00.000Z'));

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    key = logKeyFromMaster(MASTER);
    log = new AuditLog({ store: handle.store, ctx, key });
  });
  afterEach(async () => handle.dispose());

  async function append(n: number, label = 'p'): Promise<void> {
    for (let i = 0; i < n; i++) {
      await handle.store.transaction((tx) =>
        appendEvent(tx, ctx, { type: 'principal.created', target: `${label}${i}`, outcome: 'success', data: { kind: 'user', name: `${label}-${i}` } }, { actor: 'prn_admin', sourceIp: '192.0.2.7', requestId: `req-${label}${i}` }),
      );
      ctx.advance(1000);
    }
  }

  const verify = (external?: string[]): Promise<LogReport> =>
    verifyLog(handle.store, { origin: key.origin, verifiers: [key.verifier], ...(external ? { external } : {}) });

  /** Runs SQL directly against the database, as someone holding it would. */
  const raw = (sql: string, params: (string | number)[] = []) => handle.store.run(sql, params);

  it('seals records into signed checkpoints that are events themselves, and verifies', async () => {
    await append(5);
    const first = await log.checkpoint();
    expect(first).toMatchObject({ size: 5, lastSeq: 5 });
    // No new record but the checkpoint event: nothing to seal.
    expect(await log.checkpoint()).toBeUndefined();
    await append(3, 'q');
    const second = await log.checkpoint();
    // The first checkpoint's event (seq 6) is a leaf of the second tree.
    expect(second).toMatchObject({ size: 9, lastSeq: 9 });

    // A third party with only the verifier key checks the note.
    const checked = verifyCheckpoint(second!.note, { origin: key.origin, verifiers: [parseVerifierKey(key.vkey)] });
    expect(checked.ok).toBe(true);
    const events = await listEvents(handle.store, { limit: 1000 });
    const cpEvents = events.filter((e) => e.type === CHECKPOINT_EVENT);
    expect(cpEvents.map((e) => e.data)).toEqual([
      { size: 5, lastSeq: 5, root: first!.root, note: first!.note },
      { size: 9, lastSeq: 9, root: second!.root, note: second!.note },
    ]);
    expect(cpEvents[0]!.target).toBe(key.origin);

    // Anyone recomputes the root from the exported records (RFC 8785 JSON, RFC 9162 hashing) and
    // checks inclusion and consistency proofs against the signed heads.
    const tree = new MerkleTree();
    for (const e of events.filter((e) => e.seq <= 9)) tree.append(leafHash(logRecordBytes(e)));
    expect(Buffer.from(tree.root(9)).toString('base64')).toBe(second!.root);
    expect(Buffer.from(tree.root(5)).toString('base64')).toBe(first!.root);
    const root9 = new Uint8Array(Buffer.from(second!.root, 'base64'));
    const root5 = new Uint8Array(Buffer.from(first!.root, 'base64'));
    expect(verifyInclusion(2, 9, recordLeaf(events[2]!), tree.inclusionProof(2, 9), root9)).toBe(true);
    expect(verifyConsistency(5, 9, root5, root9, tree.consistencyProof(5, 9))).toBe(true);

    const report = await verify([first!.note, second!.note]);
    expect(report).toMatchObject({ ok: true, records: 10, checkpoints: 2, sealedSize: 9, unsealed: 1, external: 2, problems: [] });
  });

  it('names a record edited in place', async () => {
    await append(6);
    await log.checkpoint();
    await raw("UPDATE events SET target = 'someone-else' WHERE seq = 3");
    await raw(`UPDATE events SET data = '{"kind":"user","name":"p-4","extra":1}' WHERE seq = 5`);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ kind: 'modified', seq: 3 });
    expect(report.problems.map((p) => [p.kind, p.seq])).toContainEqual(['modified', 5]);
  });

  it('names a deleted record, and records deleted from the end', async () => {
    await append(6);
    await log.checkpoint();
    await append(3, 'tail');
    const events = await listEvents(handle.store);
    await raw('DELETE FROM events WHERE seq = 4');
    let report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ kind: 'deleted', seq: 4, id: events[3]!.id });
    // Records after the last checkpoint, deleted from the end: the head remembers them.
    await raw('DELETE FROM events WHERE seq >= 9');
    report = await verify();
    expect(report.problems.map((p) => [p.kind, p.seq])).toContainEqual(['deleted', 9]);
  });

  it('names a reordered record (two rows swapped their sequence numbers)', async () => {
    await append(6);
    await log.checkpoint();
    const before = await listEvents(handle.store);
    await raw('UPDATE events SET seq = -2 WHERE seq = 2');
    await raw('UPDATE events SET seq = 2 WHERE seq = 5');
    await raw('UPDATE events SET seq = 5 WHERE seq = -2');
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ kind: 'reordered', seq: 2, id: before[4]!.id });
    expect(report.problems[0]!.detail).toContain('sealed at seq 5');
  });

  it('a gap among unsealed records, an unreadable record, an inserted record', async () => {
    await append(4);
    await raw('DELETE FROM events WHERE seq = 2');
    await raw(`UPDATE events SET data = 'not json' WHERE seq = 3`);
    const report = await verify();
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual([
      ['gap', 2],
      ['unreadable', 3],
    ]);
  });

  it('a leaf table rewritten to match an edit, or an edited checkpoint, still fails', async () => {
    await append(5);
    await log.checkpoint();
    await raw("UPDATE events SET reason = 'edited' WHERE seq = 2");
    const edited = (await listEvents(handle.store))[1]!;
    await raw('UPDATE audit_leaves SET hash = ? WHERE seq = 2', [Buffer.from(recordLeaf(edited)).toString('hex')]);
    let report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ kind: 'checkpoint', seq: 5 });
    expect(report.problems.map((p) => p.kind)).toEqual(['checkpoint', 'leaves']);

    await raw("UPDATE audit_checkpoints SET note = replace(note, '\n5\n', '\n4\n')");
    report = await verify();
    expect(report.problems.some((p) => p.kind === 'checkpoint' && /invalid_signature|differs/.test(p.detail))).toBe(true);
  });

  it('a history rewritten with the checkpoints deleted is caught by a checkpoint kept outside', async () => {
    await append(5);
    const kept = await log.checkpoint();
    await raw('DELETE FROM audit_checkpoints');
    await raw('DELETE FROM audit_leaves');
    await raw("UPDATE events SET actor = 'prn_nobody' WHERE seq = 1");
    // Without the external copy only order is checked: the rewrite is invisible.
    expect((await verify()).ok).toBe(true);
    const report = await verify([kept!.note]);
    expect(report.ok).toBe(false);
    expect(report.problems[0]!.detail).toContain('external checkpoint of size 5');
  });

  it('a checkpoint signed by another key does not count', async () => {
    await append(3);
    await log.checkpoint();
    const other = logKeyFromMaster(new Uint8Array(32).fill(8), key.origin);
    const report = await verifyLog(handle.store, { origin: key.origin, verifiers: [other.verifier] });
    expect(report.ok).toBe(false);
    expect(report.problems[0]!.kind).toBe('checkpoint');
  });

  it('pruning keeps the checkpoints and cuts at one: what remains verifies, and tampering is still found', async () => {
    await append(20);
    await log.checkpoint(); // size 20
    await append(10, 'b');
    await log.checkpoint(); // size 31 (with the first checkpoint's event)
    await append(5, 'c'); // unsealed
    // Keep the newest 12 (seq 26–37): the cut falls back to the end of the newest checkpoint at or
    // before seq 25, the one of size 20; the rest of the older records stay.
    const pruned = await log.prune({ maxAgeMs: 0, maxCount: 12 });
    expect(pruned.deleted).toBeGreaterThan(0);
    const remaining = await listEvents(handle.store, { limit: 1000 });
    expect(remaining[0]!.seq).toBe(21);
    expect((await log.list()).map((c) => c.size)).toEqual([31, 20]);
    let report = await verify();
    expect(report).toMatchObject({ ok: true, firstSeq: 21, records: 17, sealedSize: 31, unsealed: 6 });
    await log.checkpoint();
    report = await verify();
    expect(report).toMatchObject({ ok: true, sealedSize: 37 });
    await raw("UPDATE events SET target = 'x' WHERE seq = 33");
    await raw('DELETE FROM events WHERE seq = 22');
    report = await verify();
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual([
      ['deleted', 22],
      ['modified', 33],
      ['checkpoint', 37],
    ]);
    // An age limit cuts at a checkpoint signed before it.
    ctx.advance(86_400_000);
    expect((await log.prune({ maxAgeMs: 3_600_000, maxCount: 0 })).deleted).toBeGreaterThan(0);
    expect((await listEvents(handle.store, { limit: 1 }))[0]!.seq).toBe(38);
  });

  it('records deleted before the oldest checkpoint without retention are named', async () => {
    await append(10);
    await log.checkpoint();
    await raw('DELETE FROM events WHERE seq <= 3');
    await raw('DELETE FROM audit_leaves WHERE seq <= 3');
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ kind: 'truncated', seq: 4 });
  });
});

it('the log key comes from the master key: same master, same key and origin; another master, another key', () => {
  const a = logKeyFromMaster(MASTER);
  expect(logKeyFromMaster(MASTER).vkey).toBe(a.vkey);
  expect(a.origin).toMatch(/^keyturn\/audit\/[0-9a-f]{16}$/);
  expect(logKeyFromMaster(new Uint8Array(32).fill(1)).vkey).not.toBe(a.vkey);
  expect(logKeyFromMaster(MASTER, 'keyturn.example/audit').origin).toBe('keyturn.example/audit');
});
