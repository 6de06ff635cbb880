/**
 * Offboarding (issue #11 item 6): a person exposed to `exposures` API keys is offboarded to the end
 * in-process on SQLite (and on PostgreSQL when `KEYTURN_BENCH_PG_URL` is set): the dry run (plan),
 * then the real run (plan recorded, steps in batches of 200). Reports steps per second of each.
 * `npm run bench -- --only offboarding`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { RequestMeta } from '../src/audit/events.js';
import { loadConfig } from '../src/config/load.js';
import { openKeyturn } from '../src/runtime/open.js';

export interface OffboardingFigure {
  readonly store: 'sqlite' | 'postgres';
  readonly exposures: number;
  readonly planMs: number;
  readonly runMs: number;
  readonly stepsPerSec: number;
}

async function one(store: 'sqlite' | 'postgres', exposures: number): Promise<OffboardingFigure> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-bench-offboard-'));
  const url = process.env.KEYTURN_BENCH_PG_URL;
  const schema = `bench_offboard_${randomBytes(4).toString('hex')}`;
  const flags =
    store === 'postgres'
      ? { dataDir, logLevel: 'silent', db: `${url}?schema=${schema}`, masterKey: randomBytes(32).toString('hex'), issuer: 'http://127.0.0.1:9' }
      : { dataDir, logLevel: 'silent' };
  const kt = await openKeyturn(loadConfig({ flags }));
  try {
    const bob = await kt.principals.create({ kind: 'user', name: 'bob' }, { actor: null });
    const billing = await kt.principals.create({ kind: 'service', name: 'billing' }, { actor: null });
    const meta: RequestMeta = { actor: bob.id, actorKind: 'user', sourceIp: null, requestId: null };
    for (let i = 0; i < exposures; i += 1000) {
      await kt.store.transaction(async (tx) => {
        for (let j = i; j < Math.min(i + 1000, exposures); j++) await kt.keys.createIn(tx, { owner: billing.id, name: `k${j}`, scopes: [] }, meta);
      });
    }
    const t0 = performance.now();
    await kt.offboarding.offboard('bob', { dryRun: true }, { actor: null });
    const t1 = performance.now();
    const report = await kt.offboarding.offboard('bob', {}, { actor: null });
    const t2 = performance.now();
    if (report.status !== 'done' || report.done !== exposures) throw new Error(`offboarding did not finish: ${report.status}, ${report.done} done`);
    return { store, exposures, planMs: Math.round(t1 - t0), runMs: Math.round(t2 - t1), stepsPerSec: Math.round(exposures / ((t2 - t1) / 1000)) };
  } finally {
    await kt.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (store === 'postgres') {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  }
}

/** Runs the offboarding benchmark (SQLite; PostgreSQL when `KEYTURN_BENCH_PG_URL` is set). */
export async function runOffboardingBench(options: { exposures?: number } = {}): Promise<OffboardingFigure[]> {
  const exposures = options.exposures ?? 10_000;
  const figures = [await one('sqlite', exposures)];
  if (process.env.KEYTURN_BENCH_PG_URL) figures.push(await one('postgres', exposures));
  for (const f of figures) console.log(`offboarding (${f.store}): ${f.exposures} exposures, plan ${f.planMs} ms, run ${f.runMs} ms (${f.stepsPerSec} steps/s)`);
  return figures;
}
