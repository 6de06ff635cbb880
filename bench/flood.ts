/**
 * Flood benchmark (issue 9, item 1): `npx tsx bench/flood.ts [--duration 10] [--connections 50] [--flood-connections 50]`,
 * or `npm run bench -- --only flood`.
 *
 * Measured fairly, every party in its own process: keyturn as its installed bin (`package.json`
 * `bin.keyturn`, i.e. `node dist/cli/main.js serve`, SQLite, default limits) listening on
 * loopback; the valid-key load in one generator process (`bench/load.ts`, autocannon); each flood
 * in a generator process of its own. (Before, autocannon ran the valid load and both floods in
 * this one process: the generators competed with each other for one event loop, so what the
 * valid-load figure measured during the flood was partly the generator's own saturation.)
 * 1. baseline: valid-key `POST /v1/keys/verify` alone;
 * 2. the same load during a flood of one invented (well-formed, never issued) key at
 *    `POST /v1/keys/verify` and of a 60,000-character `client_id` at `POST /oauth/token`
 *    (the two attacks of the review), each from `floodConnections` connections.
 * Measures the rows the flood added to `events` (per minute of flood, summaries included: the
 * server is stopped gracefully, which writes the open groups' summaries), the database's growth,
 * and valid-key throughput during the flood as a share of the baseline (target ≥ 70%); and, to
 * tell who was the limit, the CPU each process used per wall second (server from /proc, each
 * generator its own): a generator near 1.0 was saturated itself; the server near the number of
 * cores it could get was the bottleneck. Figures from a shared or loaded machine compare only
 * within one run; with fewer cores than processes (server + 3 generators) the share measures
 * the machine's scheduling as much as keyturn.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Options } from 'autocannon';
import type { LoadResult } from './load.js';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemContext } from '../src/core/context.js';
import { generateSecret } from '../src/core/secret.js';
import { ensureBuild, freePort, installedBin, root, startChild, waitFor, adminCaller } from './support.js';

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
  /** How the parties ran: each in its own process, keyturn as its bin. */
  readonly setup: { readonly server: string; readonly generators: string; readonly cores: number };
  readonly validAloneReqPerSec: number;
  readonly validDuringFloodReqPerSec: number;
  readonly validDuringFloodVsAlone: number;
  readonly validNon2xxDuringFlood: number;
  readonly flood: {
    readonly unknownKeyRequests: number;
    readonly oversizedClientIdRequests: number;
    readonly answered429: number;
  };
  /** CPU seconds per wall second: the server's (all its threads) and each generator's, alone and during the flood. */
  readonly cpu: {
    readonly alone: { readonly server: number | null; readonly validGenerator: number };
    readonly duringFlood: { readonly server: number | null; readonly validGenerator: number; readonly keyFloodGenerator: number; readonly tokenFloodGenerator: number };
    /** Who looks like the limit during the flood, from the figures above. */
    readonly verdict: string;
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

/** CPU seconds (user + system, all threads) a process has used, from /proc (Linux); `null` elsewhere. */
function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return null;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) in clock ticks; Linux's USER_HZ is 100.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A load generator in its own process (bench/load.ts), started on {@link go}. */
interface Load {
  readonly ready: Promise<void>;
  readonly result: Promise<LoadResult>;
  go(): void;
  kill(): void;
}

function startLoad(options: Options): Load {
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/load.ts'), JSON.stringify(options)], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Array<(line: Record<string, unknown>) => void> = [];
  const queued: Array<Record<string, unknown>> = [];
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const waiter = lines.shift();
    if (waiter) waiter(line);
    else queued.push(line);
  });
  const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`load generator exited (${code}) early`))));
  exited.catch(() => undefined);
  const next = () => Promise.race([new Promise<Record<string, unknown>>((resolve) => (queued.length > 0 ? resolve(queued.shift()!) : lines.push(resolve))), exited]);
  const ready = next().then(() => undefined);
  const result = ready.then(() => next()) as Promise<unknown> as Promise<LoadResult>;
  return { ready, result, go: () => proc.stdin!.end('go\n'), kill: () => void proc.kill('SIGKILL') };
}

/** Runs `loads` together (all loaded first, then started at once) and measures the server's CPU meanwhile. */
async function together(serverPid: number | undefined, loads: readonly Options[]): Promise<{ results: LoadResult[]; serverCpu: number | null }> {
  const started = loads.map(startLoad);
  try {
    await Promise.all(started.map((l) => l.ready));
    const cpuBefore = cpuSeconds(serverPid);
    const t0 = performance.now();
    for (const l of started) l.go();
    const results = await Promise.all(started.map((l) => l.result));
    const cpuAfter = cpuSeconds(serverPid);
    const wall = (performance.now() - t0) / 1000;
    return { results, serverCpu: cpuBefore === null || cpuAfter === null ? null : Math.round(((cpuAfter - cpuBefore) / wall) * 100) / 100 };
  } finally {
    for (const l of started) l.kill();
  }
}

function verdict(cpu: FloodResults['cpu']['duringFlood'], cores: number): string {
  const total = (cpu.server ?? 0) + cpu.validGenerator + cpu.keyFloodGenerator + cpu.tokenFloodGenerator;
  if (total >= cores * 0.9) return `the machine: ${Math.round(total * 100) / 100} CPU-seconds per second used of ${cores} cores — server and generators compete for cores; the share measures scheduling as much as keyturn`;
  if (cpu.validGenerator >= 0.9) return 'the valid-load generator (saturated its core)';
  if (cpu.server !== null && cpu.server >= 0.9) return 'the server (its main thread saturated)';
  return 'neither saturated: latency-bound (e.g. 429 holds, connection limits)';
}

export async function runFloodBench(options: FloodBenchOptions = {}): Promise<FloodResults> {
  const duration = options.durationSec ?? 10;
  const connections = options.connections ?? 50;
  const floodConnections = options.floodConnections ?? 50;
  ensureBuild();
  const bin = installedBin();
  const cores = availableParallelism();
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-flood-'));
  const dbFile = join(dataDir, 'keyturn.db');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = startChild([bin, 'serve', '--data-dir', dataDir, '--port', String(port), '--log-level', 'silent']);
  try {
    await waitFor(`${url}/healthz`);
    const call = adminCaller(url, dataDir);
    await call('/v1/principals', { kind: 'service', name: 'bench' });
    const key = (await call('/v1/keys', { owner: 'bench', name: 'bench', scopes: ['read'] })).key as string;
    const json = { 'content-type': 'application/json' };
    const valid: Options = { url: `${url}/v1/keys/verify`, method: 'POST', headers: json, body: JSON.stringify({ key }), connections };
    // An invented key: well-formed, right checksum, never issued.
    const invented = generateSecret('kt_live', systemContext);
    const pid = server.proc.pid;

    await together(pid, [{ ...valid, duration: Math.min(3, duration) }]); // warm-up
    const alone = await together(pid, [{ ...valid, duration }]);

    const before = new Database(dbFile, { readonly: true });
    const rowsBefore = (before.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    const seqBefore = (before.prepare('SELECT MAX(seq) AS s FROM events').get() as { s: number }).s;
    before.close();
    const bytesBefore = dbBytes(dbFile);

    const hugeClientId = `x${'A'.repeat(59_999)}`;
    const startedAt = Date.now();
    const flood = await together(pid, [
      { ...valid, duration },
      { url: `${url}/v1/keys/verify`, method: 'POST', headers: json, body: JSON.stringify({ key: invented }), connections: floodConnections, duration },
      {
        url: `${url}/oauth/token`,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=client_credentials&client_id=${hugeClientId}&client_secret=nope`,
        connections: floodConnections,
        duration,
      },
    ]);
    const [during, keyFlood, tokenFlood] = flood.results as [LoadResult, LoadResult, LoadResult];
    const floodMs = Date.now() - startedAt;
    // A graceful stop writes the summaries of the groups still open: every count lands in the store.
    await server.stop();

    const after = new Database(dbFile, { readonly: true });
    const added = after.prepare('SELECT type, COUNT(*) AS n FROM events WHERE seq > ? GROUP BY type').all(seqBefore) as { type: string; n: number }[];
    const largest = (after.prepare('SELECT MAX(LENGTH(id) + LENGTH(type) + COALESCE(LENGTH(target), 0) + COALESCE(LENGTH(reason), 0) + COALESCE(LENGTH(source_ip), 0) + LENGTH(data)) AS b FROM events WHERE seq > ?').get(seqBefore) as { b: number | null }).b ?? 0;
    const rowsAfter = (after.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    after.close();
    const eventRowsAdded = rowsAfter - rowsBefore;
    const validAlone = alone.results[0]!;
    const share = during.reqPerSec / validAlone.reqPerSec;
    const duringCpu = { server: flood.serverCpu, validGenerator: during.cpuShare, keyFloodGenerator: keyFlood.cpuShare, tokenFloodGenerator: tokenFlood.cpuShare };
    return {
      durationSec: duration,
      connections,
      floodConnections,
      setup: { server: `node ${bin} serve (package.json bin.keyturn), SQLite`, generators: 'one autocannon process each: valid load, key flood, token flood', cores },
      validAloneReqPerSec: Math.round(validAlone.reqPerSec),
      validDuringFloodReqPerSec: Math.round(during.reqPerSec),
      validDuringFloodVsAlone: Math.round(share * 1000) / 1000,
      validNon2xxDuringFlood: during.non2xx,
      flood: { unknownKeyRequests: keyFlood.total, oversizedClientIdRequests: tokenFlood.total, answered429: (keyFlood.status['429'] ?? 0) + (tokenFlood.status['429'] ?? 0) },
      cpu: { alone: { server: alone.serverCpu, validGenerator: validAlone.cpuShare }, duringFlood: duringCpu, verdict: verdict(duringCpu, cores) },
      store: {
        eventRowsAdded,
        eventRowsPerMinute: Math.round((eventRowsAdded / floodMs) * 60_000),
        byType: Object.fromEntries(added.map((r) => [r.type, r.n])),
        largestEventRowBytes: largest,
        dbBytesBefore: bytesBefore,
        dbBytesAfter: dbBytes(dbFile),
      },
      targetMet: share >= FLOOD_TARGETS.validDuringFloodVsAlone,
      note: `all load from 127.0.0.1 (one source network); ${cores} cores for the server and three generator processes: with fewer cores than processes, compare within one run only`,
    };
  } finally {
    await server.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function printFlood(r: FloodResults): void {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  console.log(`flood (${r.durationSec}s, valid load ${r.connections} connections, each flood ${r.floodConnections} connections, one keyturn on SQLite; every party its own process):`);
  console.log(`  valid-key verify alone:        ${r.validAloneReqPerSec} req/s`);
  console.log(`  valid-key verify during flood: ${r.validDuringFloodReqPerSec} req/s = ${pct(r.validDuringFloodVsAlone)} of alone (target ≥ ${pct(FLOOD_TARGETS.validDuringFloodVsAlone)}: ${r.targetMet ? 'met' : 'MISSED'}), ${r.validNon2xxDuringFlood} non-2xx`);
  console.log(`  flood sent: ${r.flood.unknownKeyRequests} invalid-key verifies, ${r.flood.oversizedClientIdRequests} token requests with a 60,000-char client_id; ${r.flood.answered429} answered 429`);
  console.log(`  events added: ${r.store.eventRowsAdded} rows (${r.store.eventRowsPerMinute}/min of flood) ${JSON.stringify(r.store.byType)}; largest row ${r.store.largestEventRowBytes} bytes`);
  console.log(`  database: ${r.store.dbBytesBefore} → ${r.store.dbBytesAfter} bytes`);
  const c = r.cpu;
  console.log(`  setup: ${r.setup.server}; ${r.setup.generators}; ${r.setup.cores} cores`);
  console.log(`  CPU s/s alone: server ${c.alone.server ?? 'n/a'}, valid generator ${c.alone.validGenerator}`);
  console.log(`  CPU s/s during flood: server ${c.duringFlood.server ?? 'n/a'}, valid generator ${c.duringFlood.validGenerator}, key flood ${c.duringFlood.keyFloodGenerator}, token flood ${c.duringFlood.tokenFloodGenerator}`);
  console.log(`  limit during the flood: ${c.verdict}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' }, 'flood-connections': { type: 'string', default: '50' } } });
  printFlood(await runFloodBench({ durationSec: Number(values.duration), connections: Number(values.connections), floodConnections: Number(values['flood-connections']) }));
}
