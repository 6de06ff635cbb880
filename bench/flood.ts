/**
 * Flood benchmark (issue 9, item 1): `npx tsx bench/flood.ts [--duration 10] [--connections 50] [--flood-connections 50]`,
 * or `npm run bench -- --only flood`.
 *
 * Against a real keyturn (`node dist/cli/main.js serve`, SQLite, default limits) listening on
 * loopback, autocannon in this process:
 * 1. baseline: valid-key `POST /v1/keys/verify` alone;
 * 2. the same load during a flood of one invented (well-formed, never issued) key at
 *    `POST /v1/keys/verify` and of a 60,000-character `client_id` at `POST /oauth/token`
 *    (the two attacks of the review), each from `floodConnections` connections.
 * Measures the rows the flood added to `events` (per minute of flood, summaries included: the
 * server is stopped gracefully, which writes the open groups' summaries), the database's growth,
 * and valid-key throughput during the flood as a share of the baseline (target ≥ 70%).
 * Figures are from a shared machine: compare them within one run only.
 */
import autocannon, { type Result } from 'autocannon';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemContext } from '../src/core/context.js';
import { generateSecret } from '../src/core/secret.js';
import { ensureBuild, freePort, startChild, waitFor } from './support.js';

export const FLOOD_TARGETS = { validDuringFloodVsAlone: 0.7 } as const;

export interface FloodBenchOptions {
  readonly durationSec?: number;
  readonly connections?: number;
  readonly floodConnections?: number;
}

export interface FloodResults {
  readonly durationSec: number;
  readonly connections: number;
  readonly floodConnections: number;
  readonly validAloneReqPerSec: number;
  readonly validDuringFloodReqPerSec: number;
  readonly validDuringFloodVsAlone: number;
  readonly validNon2xxDuringFlood: number;
  readonly flood: {
    readonly unknownKeyRequests: number;
    readonly oversizedClientIdRequests: number;
    readonly answered429: number;
  };
  readonly store: {
    readonly eventRowsAdded: number;
    readonly eventRowsPerMinute: number;
    readonly byType: Record<string, number>;
    readonly largestEventRowBytes: number;
    readonly dbBytesBefore: number;
    readonly dbBytesAfter: number;
  };
  readonly targetMet: boolean;
  readonly note: string;
}

function dbBytes(file: string): number {
  return [file, `${file}-wal`, `${file}-shm`].reduce((n, f) => n + (existsSync(f) ? statSync(f).size : 0), 0);
}

export async function runFloodBench(options: FloodBenchOptions = {}): Promise<FloodResults> {
  const duration = options.durationSec ?? 10;
  const connections = options.connections ?? 50;
  const floodConnections = options.floodConnections ?? 50;
  ensureBuild();
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-flood-'));
  const dbFile = join(dataDir, 'keyturn.db');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = startChild(['dist/cli/main.js', 'serve', '--data-dir', dataDir, '--port', String(port), '--log-level', 'silent']);
  try {
    await waitFor(`${url}/healthz`);
    const admin = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
    const call = async (path: string, body: unknown) => {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
      return (await res.json()) as Record<string, unknown>;
    };
    await call('/v1/principals', { kind: 'service', name: 'bench' });
    const key = (await call('/v1/keys', { owner: 'bench', name: 'bench', scopes: ['read'] })).key as string;
    const json = { 'content-type': 'application/json' };
    const valid = { url: `${url}/v1/keys/verify`, method: 'POST', headers: json, body: JSON.stringify({ key }), connections };
    // An invented key: well-formed, right checksum, never issued: one store read per request to refuse.
    const invented = generateSecret('kt_live', systemContext);

    await autocannon({ ...valid, duration: Math.min(3, duration) }); // warm-up
    const alone: Result = await autocannon({ ...valid, duration });

    const before = new Database(dbFile, { readonly: true });
    const rowsBefore = (before.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    const seqBefore = (before.prepare('SELECT MAX(seq) AS s FROM events').get() as { s: number }).s;
    before.close();
    const bytesBefore = dbBytes(dbFile);

    const hugeClientId = `x${'A'.repeat(59_999)}`;
    const startedAt = Date.now();
    const [during, keyFlood, tokenFlood] = await Promise.all([
      autocannon({ ...valid, duration }),
      autocannon({ url: `${url}/v1/keys/verify`, method: 'POST', headers: json, body: JSON.stringify({ key: invented }), connections: floodConnections, duration }),
      autocannon({
        url: `${url}/oauth/token`,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=client_credentials&client_id=${hugeClientId}&client_secret=nope`,
        connections: floodConnections,
        duration,
      }),
    ]);
    const floodMs = Date.now() - startedAt;
    // A graceful stop writes the summaries of the groups still open: every count lands in the store.
    await server.stop();

    const after = new Database(dbFile, { readonly: true });
    const added = after.prepare('SELECT type, COUNT(*) AS n FROM events WHERE seq > ? GROUP BY type').all(seqBefore) as { type: string; n: number }[];
    const largest = (after.prepare('SELECT MAX(LENGTH(id) + LENGTH(type) + COALESCE(LENGTH(target), 0) + COALESCE(LENGTH(reason), 0) + COALESCE(LENGTH(source_ip), 0) + LENGTH(data)) AS b FROM events WHERE seq > ?').get(seqBefore) as { b: number | null }).b ?? 0;
    const rowsAfter = (after.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    after.close();
    const eventRowsAdded = rowsAfter - rowsBefore;
    const share = during.requests.average / alone.requests.average;
    const key429 = keyFlood.statusCodeStats?.['429']?.count ?? 0;
    const token429 = tokenFlood.statusCodeStats?.['429']?.count ?? 0;
    return {
      durationSec: duration,
      connections,
      floodConnections,
      validAloneReqPerSec: Math.round(alone.requests.average),
      validDuringFloodReqPerSec: Math.round(during.requests.average),
      validDuringFloodVsAlone: Math.round(share * 1000) / 1000,
      validNon2xxDuringFlood: during.non2xx,
      flood: { unknownKeyRequests: keyFlood.requests.total, oversizedClientIdRequests: tokenFlood.requests.total, answered429: key429 + token429 },
      store: {
        eventRowsAdded,
        eventRowsPerMinute: Math.round((eventRowsAdded / floodMs) * 60_000),
        byType: Object.fromEntries(added.map((r) => [r.type, r.n])),
        largestEventRowBytes: largest,
        dbBytesBefore: bytesBefore,
        dbBytesAfter: dbBytes(dbFile),
      },
      targetMet: share >= FLOOD_TARGETS.validDuringFloodVsAlone,
      note: 'one machine shared with other work; all load from 127.0.0.1 (one source network); autocannon and keyturn share its cores',
    };
  } finally {
    await server.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function printFlood(r: FloodResults): void {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  console.log(`flood (${r.durationSec}s, valid load ${r.connections} connections, each flood ${r.floodConnections} connections, one keyturn on SQLite):`);
  console.log(`  valid-key verify alone:        ${r.validAloneReqPerSec} req/s`);
  console.log(`  valid-key verify during flood: ${r.validDuringFloodReqPerSec} req/s = ${pct(r.validDuringFloodVsAlone)} of alone (target ≥ ${pct(FLOOD_TARGETS.validDuringFloodVsAlone)}: ${r.targetMet ? 'met' : 'MISSED'}), ${r.validNon2xxDuringFlood} non-2xx`);
  console.log(`  flood sent: ${r.flood.unknownKeyRequests} invalid-key verifies, ${r.flood.oversizedClientIdRequests} token requests with a 60,000-char client_id; ${r.flood.answered429} answered 429`);
  console.log(`  events added: ${r.store.eventRowsAdded} rows (${r.store.eventRowsPerMinute}/min of flood) ${JSON.stringify(r.store.byType)}; largest row ${r.store.largestEventRowBytes} bytes`);
  console.log(`  database: ${r.store.dbBytesBefore} → ${r.store.dbBytesAfter} bytes`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' }, 'flood-connections': { type: 'string', default: '50' } } });
  printFlood(await runFloodBench({ durationSec: Number(values.duration), connections: Number(values.connections), floodConnections: Number(values['flood-connections']) }));
}
