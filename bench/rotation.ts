/**
 * Rotation benchmark (issue 11): `npx tsx bench/rotation.ts [--keys 100000] [--duration 10] [--connections 50] [--pg URL] [--profile] [--http-only]`,
 * or `npm run bench -- --only rotation [--rotation-keys N]`.
 *
 * 1. Rotations per second when `keys` API keys come due at once (policy `banking`), in process,
 *    on SQLite and on PostgreSQL (when a URL is given or `KEYTURN_TEST_PG_URL` is set; a fresh
 *    schema, dropped afterwards): `rotateAllDue` as the scheduler runs it, successors sealed.
 * 2. Verification throughput over HTTP (`POST /v1/keys/verify` with a valid key, autocannon)
 *    against `node dist/cli/main.js serve` on SQLite while the scheduler rotates those keys, as a
 *    share of the same server idle (target ≥ 80%).
 * 3. The key holder's overhead per call (`keyturn/client`): `holder.fetch()` against a plain
 *    `fetch` with the same header, both on a stub fetch (no network), in nanoseconds.
 * Figures from a shared machine: compare them within one run only.
 */
import autocannon, { type Result } from 'autocannon';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measure } from 'mitata';
import { createKeyHolder } from '../src/client/index.js';
import { manualContext, systemContext } from '../src/core/context.js';
import { KeyService } from '../src/keys/index.js';
import { PrincipalService } from '../src/principals/index.js';
import { PolicyService, rotateAllDue } from '../src/rotation/index.js';
import { MIGRATIONS } from '../src/runtime/open.js';
import { KeyEncryption } from '../src/signing/kek.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/port.js';
import { printProfile, summariseProfile } from './profile.js';
import { ensureBuild, freePort, startChild, waitFor, type Child, adminCaller } from './support.js';

export const ROTATION_TARGETS = { verifyDuringRotationVsIdle: 0.8 } as const;

export interface RotationBenchOptions {
  readonly keys?: number;
  readonly durationSec?: number;
  readonly connections?: number;
  /** PostgreSQL for the in-process figure (default: `KEYTURN_TEST_PG_URL`; none: SQLite only). */
  readonly pgUrl?: string;
  /** Runs the server of the "during rotation" window under `node --cpu-prof` and summarises where its time goes. */
  readonly profile?: boolean;
  /** Only the HTTP figure (with `profile`: while looking at where the server's time goes). */
  readonly httpOnly?: boolean;
}

const META = { actor: null, actorKind: null, sourceIp: null, requestId: 'bench' } as const;
const DAY = 86_400_000;

/** `count` keys of principal `due` (policy banking: rotation due a day after issue), issued at `issuedAt`. */
async function seedDueKeys(store: Store, masterKey: Uint8Array, count: number, issuedAt: number, createPrincipals: boolean): Promise<KeyService> {
  const ctx = manualContext(new Date(issuedAt));
  const policies = new PolicyService({ store, ctx });
  await policies.load();
  const principals = new PrincipalService(store, ctx, { policies });
  const keys = new KeyService({ store, ctx, principals, prefix: 'kt_live', policies, sealer: new KeyEncryption(masterKey, ctx) });
  if (createPrincipals) await principals.create({ kind: 'service', name: 'due', policy: 'banking' }, META);
  for (let i = 0; i < count; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => keys.create({ owner: 'due', name: `k${i + j}` }, META)));
  }
  keys.close();
  policies.close();
  return keys;
}

/** Rotations per second of `keys` keys due at once, in process on `db`. */
export async function rotationRate(db: string | undefined, dataDir: string, count: number): Promise<{ seeded: number; seconds: number; rotationsPerSec: number; cpuUsPerRotation: number }> {
  const store = await openStore(db, dataDir);
  try {
    await store.migrate(MIGRATIONS);
    const masterKey = randomBytes(32);
    const t0 = Date.now() - 2 * DAY;
    await seedDueKeys(store, masterKey, count, t0, true);
    const ctx = manualContext(new Date(t0 + DAY + 60_000));
    const policies = new PolicyService({ store, ctx });
    await policies.load();
    const principals = new PrincipalService(store, ctx, { policies });
    // Unpaced: the rate the store allows (the server paces it to `rotationShare` of its time, see the HTTP figure).
    const keys = new KeyService({ store, ctx, principals, prefix: 'kt_live', policies, sealer: new KeyEncryption(masterKey, ctx), rotationShare: 1 });
    const started = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const run = await rotateAllDue(keys);
    const cpu = process.cpuUsage(cpu0);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    keys.close();
    policies.close();
    if (run.rotated !== count) throw new Error(`expected ${count} rotations, did ${run.rotated}`);
    // CPU time of this process per rotation (user + system; PostgreSQL's own work is not in it): comparable across runs on a loaded machine.
    const cpuUsPerRotation = Math.round(((cpu.user + cpu.system) / count) * 10) / 10;
    return { seeded: count, seconds: Math.round(seconds * 100) / 100, rotationsPerSec: Math.round(count / seconds), cpuUsPerRotation };
  } finally {
    await store.close();
  }
}

function serve(dataDir: string, port: number, masterKeyHex: string, tick: string, nodeFlags: string[] = []): Child {
  return startChild([...nodeFlags, 'dist/cli/main.js', 'serve', '--data-dir', dataDir, '--port', String(port), '--log-level', 'silent', '--master-key', masterKeyHex, '--rotation-tick', tick]);
}

/** Verify throughput over HTTP idle, then while the scheduler rotates `count` due keys. */
async function verifyDuringRotation(count: number, durationSec: number, connections: number, profile = false) {
  ensureBuild();
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-rotbench-'));
  const masterKey = randomBytes(32);
  const hex = Buffer.from(masterKey).toString('hex');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  try {
    // A first start creates the database; the verify key is not due (policy `default`).
    let server = serve(dataDir, port, hex, '0');
    await waitFor(`${url}/healthz`);
    const call = adminCaller(url, dataDir);
    await call('/v1/principals', { kind: 'service', name: 'bench' });
    await call('/v1/principals', { kind: 'service', name: 'due', policy: 'banking' });
    const key = (await call('/v1/keys', { owner: 'bench', name: 'bench', scopes: ['read'] })).key as string;
    await server.stop();

    const store = await openStore(undefined, dataDir);
    await seedDueKeys(store, masterKey, count, Date.now() - DAY - 60_000, false);
    await store.close();

    const valid = { url: `${url}/v1/keys/verify`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }), connections };
    // Both windows start right after a start (cold caches and JIT alike): idle with the scheduler off, then with it on.
    server = serve(dataDir, port, hex, '0');
    await waitFor(`${url}/healthz`);
    const idle: Result = await autocannon({ ...valid, duration: durationSec });
    await server.stop();

    // The scheduler catches up on start: every key is due.
    const profileDir = join(dataDir, 'profile');
    server = serve(dataDir, port, hex, '1s', profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []);
    await waitFor(`${url}/healthz`);
    const during: Result = await autocannon({ ...valid, duration: durationSec });
    await server.stop();
    const profileFile = profile ? readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
    const summary = profileFile ? summariseProfile(join(profileDir, profileFile)) : undefined;
    const db = new Database(join(dataDir, 'keyturn.db'), { readonly: true });
    const rotated = (db.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'key.rotated'").get() as { n: number }).n;
    db.close();
    const share = during.requests.average / idle.requests.average;
    return {
      keysDue: count,
      connections,
      durationSec,
      verifyIdleReqPerSec: Math.round(idle.requests.average),
      verifyDuringRotationReqPerSec: Math.round(during.requests.average),
      verifyDuringRotationVsIdle: Math.round(share * 1000) / 1000,
      non2xxDuringRotation: during.non2xx,
      rotatedDuringWindow: rotated,
      targetMet: share >= ROTATION_TARGETS.verifyDuringRotationVsIdle,
      ...(summary ? { profile: summary } : {}),
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The holder's overhead per call: `holder.fetch` against `fetch` with the same header, on a stub (no network). */
async function holderOverhead() {
  const key = 'kt_live_' + 'A'.repeat(49);
  const stub: typeof fetch = async () => new Response(null, { status: 204 });
  const holder = createKeyHolder({ url: 'http://127.0.0.1:9', key, persist: () => {}, checkEveryMs: 0, fetch: stub });
  let sink: unknown;
  const plain = await measure(async () => {
    sink = await stub('http://127.0.0.1:9/x', { headers: { authorization: `Bearer ${key}` } });
  });
  const held = await measure(async () => {
    sink = await holder.fetch('http://127.0.0.1:9/x');
  });
  const header = await measure(() => {
    sink = holder.authorization();
  });
  holder.close();
  if (sink === undefined) throw new Error('unreachable');
  return { plainNsPerCall: Math.round(plain.avg), holderFetchNsPerCall: Math.round(held.avg), overheadNsPerCall: Math.round(held.avg - plain.avg), authorizationNs: Math.round(header.avg) };
}

export async function runRotationBench(options: RotationBenchOptions = {}) {
  const count = options.keys ?? 100_000;
  const durationSec = options.durationSec ?? 10;
  const connections = options.connections ?? 50;
  const pgUrl = options.pgUrl ?? process.env.KEYTURN_TEST_PG_URL;
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-rotrate-'));
  try {
    let sqlite: Awaited<ReturnType<typeof rotationRate>> | null = null;
    if (!options.httpOnly) {
      console.log(`rotation: ${count} keys due at once, SQLite …`);
      sqlite = await rotationRate(undefined, dir, count);
    }
    let postgres: Awaited<ReturnType<typeof rotationRate>> | null = null;
    if (pgUrl && !options.httpOnly) {
      const schema = `bench_rotation_${randomBytes(4).toString('hex')}`;
      const url = new URL(pgUrl);
      url.searchParams.set('schema', schema);
      console.log(`rotation: ${count} keys due at once, PostgreSQL (schema ${schema}) …`);
      try {
        postgres = await rotationRate(url.toString(), dir, count);
      } finally {
        const admin = await openStore(pgUrl, dir);
        await admin.run(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
        await admin.close();
      }
    }
    console.log('rotation: verify over HTTP idle, then while the scheduler rotates …');
    const http = await verifyDuringRotation(count, durationSec, connections, options.profile ?? false);
    const holder = await holderOverhead();
    return { keysDue: count, sqlite, postgres, http, holder, note: 'one machine shared with other work; autocannon and keyturn share its cores' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    void systemContext;
  }
}

export function printRotation(r: Awaited<ReturnType<typeof runRotationBench>>): void {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  console.log(`rotation (${r.keysDue} API keys due at once):`);
  console.log(`  SQLite:     ${r.sqlite ? `${r.sqlite.rotationsPerSec} rotations/s (${r.sqlite.seconds} s; ${r.sqlite.cpuUsPerRotation} µs CPU per rotation)` : 'not run (--http-only)'}`);
  console.log(`  PostgreSQL: ${r.postgres ? `${r.postgres.rotationsPerSec} rotations/s (${r.postgres.seconds} s; ${r.postgres.cpuUsPerRotation} µs CPU per rotation in keyturn's process)` : 'not run (no --pg / KEYTURN_TEST_PG_URL)'}`);
  console.log(
    `  verify over HTTP: idle ${r.http.verifyIdleReqPerSec} req/s, during rotation ${r.http.verifyDuringRotationReqPerSec} req/s = ${pct(r.http.verifyDuringRotationVsIdle)} (target ≥ ${pct(ROTATION_TARGETS.verifyDuringRotationVsIdle)}: ${r.http.targetMet ? 'met' : 'MISSED'}), ${r.http.non2xxDuringRotation} non-2xx, ${r.http.rotatedDuringWindow} rotated in the window`,
  );
  if (r.http.profile) printProfile(r.http.profile, 30);
  console.log(`  key holder: ${r.holder.overheadNsPerCall} ns overhead per call (holder.fetch ${r.holder.holderFetchNsPerCall} ns vs fetch ${r.holder.plainNsPerCall} ns on a stub; authorization() ${r.holder.authorizationNs} ns)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { keys: { type: 'string', default: '100000' }, duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' }, pg: { type: 'string' }, profile: { type: 'boolean', default: false }, 'http-only': { type: 'boolean', default: false } } });
  printRotation(
    await runRotationBench({ keys: Number(values.keys), durationSec: Number(values.duration), connections: Number(values.connections), ...(values.pg ? { pgUrl: values.pg } : {}), profile: values.profile, httpOnly: values['http-only'] }),
  );
}
