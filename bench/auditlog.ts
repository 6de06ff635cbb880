/**
 * Audit log benchmark (issue 12): `npx tsx bench/auditlog.ts [--duration 5] [--writers 8]`, or
 * `npm run bench -- --only auditlog`. In this process, on a fresh SQLite file (and on PostgreSQL
 * when `KEYTURN_BENCH_PG_URL` is set):
 * 1. event appends alone: `writers` concurrent one-event transactions (the commit-ordered
 *    sequence from `audit_head`), events per second;
 * 2. the same with the Merkle tree and signed checkpoints: a checkpoint sealed every 1,000 events
 *    (`audit.checkpointEvery` default), running beside the writers as the job would;
 * 3. `verifyLog` over everything written: records recomputed per second.
 * Figures from a shared machine are only comparable within one run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { appendEvent } from '../src/audit/events.js';
import { AuditLog, logKeyFromMaster, verifyLog } from '../src/audit/log.js';
import { systemContext } from '../src/core/context.js';
import { MIGRATIONS } from '../src/runtime/open.js';
import type { Store } from '../src/store/port.js';
import { PostgresStore } from '../src/store/postgres/index.js';
import { SqliteStore } from '../src/store/sqlite/index.js';

export interface AuditLogFigures {
  readonly store: 'sqlite' | 'postgres';
  readonly writers: number;
  readonly appendPerSec: number;
  readonly appendWithCheckpointsPerSec: number;
  readonly checkpoints: number;
  readonly verifyRecordsPerSec: number;
  readonly records: number;
}

async function appendFor(store: Store, ms: number, writers: number, onCount?: (n: number) => void): Promise<number> {
  const end = Date.now() + ms;
  let count = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (Date.now() < end) {
        await store.transaction((tx) =>
          appendEvent(tx, systemContext, { type: 'key.revoked', target: `key_${w}_${count}`, outcome: 'success', data: { previous: 'active' } }, { actor: 'prn_admin', sourceIp: '192.0.2.1', requestId: null }),
        );
        count += 1;
        onCount?.(count);
      }
    }),
  );
  return count;
}

async function benchStore(kind: 'sqlite' | 'postgres', store: Store, durationSec: number, writers: number): Promise<AuditLogFigures> {
  await store.migrate(MIGRATIONS);
  const log = new AuditLog({ store, ctx: systemContext, key: logKeyFromMaster(new Uint8Array(32).fill(1)) });
  const ms = durationSec * 1000;
  let t = Date.now();
  const plain = await appendFor(store, ms, writers);
  const appendPerSec = plain / ((Date.now() - t) / 1000);
  await log.checkpoint(); // seal what phase 1 wrote, outside the measured phase
  let checkpoints = 0;
  let sealing: Promise<void> | undefined;
  let nextAt = 1000;
  t = Date.now();
  const sealed = await appendFor(store, ms, writers, (n) => {
    if (n >= nextAt && sealing === undefined) {
      nextAt = n + 1000;
      sealing = log.checkpoint().then((c) => {
        if (c) checkpoints += 1;
        sealing = undefined;
      });
    }
  });
  await sealing;
  const appendWithCheckpointsPerSec = sealed / ((Date.now() - t) / 1000);
  t = Date.now();
  const report = await verifyLog(store, { origin: log.origin, verifiers: [logKeyFromMaster(new Uint8Array(32).fill(1)).verifier] });
  const verifyRecordsPerSec = report.records / ((Date.now() - t) / 1000);
  if (!report.ok) throw new Error(`the benchmark's own log does not verify: ${report.problems[0]?.detail}`);
  return { store: kind, writers, appendPerSec, appendWithCheckpointsPerSec, checkpoints, verifyRecordsPerSec, records: report.records };
}

export async function runAuditLogBench(options: { durationSec?: number; writers?: number } = {}): Promise<AuditLogFigures[]> {
  const durationSec = options.durationSec ?? 5;
  const writers = options.writers ?? 8;
  const out: AuditLogFigures[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-bench-audit-'));
  const sqlite = new SqliteStore({ filename: join(dir, 'bench.db') });
  try {
    out.push(await benchStore('sqlite', sqlite, durationSec, writers));
  } finally {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const url = process.env.KEYTURN_BENCH_PG_URL;
  if (url) {
    const schema = `kt_bench_${process.pid}`;
    const pg = new PostgresStore({ url, schema });
    await pg.connect();
    try {
      out.push(await benchStore('postgres', pg, durationSec, writers));
    } finally {
      await pg.run(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await pg.close();
    }
  }
  return out;
}

export function printAuditLog(figures: readonly AuditLogFigures[]): void {
  console.log('\nAudit log (in process; shared machine: compare within this run only)');
  console.log('store     writers  append/s  append+checkpoints/s  checkpoints  verify records/s');
  for (const f of figures) {
    console.log(
      `${f.store.padEnd(9)} ${String(f.writers).padStart(7)}  ${f.appendPerSec.toFixed(0).padStart(8)}  ${f.appendWithCheckpointsPerSec.toFixed(0).padStart(20)}  ${String(f.checkpoints).padStart(11)}  ${f.verifyRecordsPerSec.toFixed(0).padStart(16)}`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, writers: { type: 'string', default: '8' } } });
  const figures = await runAuditLogBench({ durationSec: Number(values.duration), writers: Number(values.writers) });
  printAuditLog(figures);
}
