/**
 * `npm run bench [-- --only http|verifier|oauth|leaks|cli|flood|binding|rotation|auditlog|audit|offboarding] [--rotation-keys 100000] [--duration 10] [--warmup 3] [--rounds 3] [--connections 50] [--profile] [--no-write]`
 *
 * In one run, on loopback:
 * - HTTP (autocannon in this process, each server in its own child process, from `dist/`):
 *   (a) a bare node:http hello-world, (b) keyturn `POST /v1/keys/verify` with a valid key,
 *   (c) a node:http hello-world guarded by the verifier middleware (cached key);
 * - in-process (mitata): `verify()` of a cached key against the floor (SHA-256 of the key and a
 *   Map lookup);
 * - the OAuth benchmark (`bench/oauth.ts`: token endpoint and introspection against oidc-provider,
 *   local JWT verification against raw jose);
 * - the leak scanner's benchmark, when `bench/leaks.ts` exports `runLeakBench`;
 * - precision and recall per provider on gitleaks' labelled examples and trufflehog's detector test inputs (`bench/leaks-vectors.ts`);
 * - the CLI from the installed bin (`bench/cli.ts`): time to first byte of `keyturn keys list`;
 * - token binding (`bench/binding.ts`): bearer, DPoP-bound, mTLS-bound and session-bound JWT
 *   verification side by side, and the per-request cost of the certificate thumbprint, the exporter
 *   value and the DPoP proof;
 * - the audit sinks (`bench/audit-sinks.ts`): valid-key throughput with every sink on versus auditing off;
 * - a flood of invalid keys and oversized client ids (`bench/flood.ts`): event rows per minute and
 *   valid-key throughput during the flood as a share of without it;
 * - rotation (`bench/rotation.ts`): rotations per second when 100,000 keys come due at once (SQLite,
 *   and PostgreSQL with `KEYTURN_TEST_PG_URL`), verify throughput over HTTP while they rotate as a
 *   share of idle, and the key holder's overhead per call.
 * - the audit log (`bench/auditlog.ts`): event appends per second alone and with the Merkle tree
 *   and a signed checkpoint every 1,000 events, and `verifyLog` records per second.
 * - offboarding a person exposed to 10,000 keys (`bench/offboarding.ts`): plan and run time.
 *
 * Prints a table and writes `bench/results/latest.json` (sections not run are kept from the
 * previous file). `--profile` runs keyturn under `node --cpu-prof` and prints where its time goes;
 */
import autocannon, { type Result } from 'autocannon';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { measure } from 'mitata';
import { printProfile, summariseProfile, type ProfileSummary } from './profile.js';
import { ensureBuild, freePort, root, startChild, waitFor, type Child, type HttpFigure } from './support.js';

type VerifierModule = typeof import('../src/verifier/index.js');
type SecretModule = typeof import('../src/core/secret.js');

const resultsFile = join(root, 'bench/results/latest.json');

/** Targets from the Foundation issue. */
const TARGETS = { verifyVsHello: 0.6, cachedVerifyVsFloor: 0.25 } as const;

const SECTIONS = ['http', 'verifier', 'oauth', 'leaks', 'cli', 'flood', 'binding', 'rotation', 'auditlog', 'audit', 'offboarding'] as const;
type Section = (typeof SECTIONS)[number];

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    profile: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    'rotation-keys': { type: 'string', default: '100000' },
  },
});

const only = new Set<Section>(
  flags.only === undefined
    ? SECTIONS
    : flags.only.split(',').map((s) => {
        if (!(SECTIONS as readonly string[]).includes(s)) {
          console.error(`--only: expected one of ${SECTIONS.join('|')} (comma-separated), got "${s}"`);
          process.exit(2);
        }
        return s as Section;
      }),
);
const duration = Number(flags.duration);
const warmup = Number(flags.warmup);
const connections = Number(flags.connections);
const roundCount = Number(flags.rounds);
for (const [name, v] of [['duration', duration], ['warmup', warmup], ['connections', connections], ['rounds', roundCount]] as const) {
  if (!Number.isInteger(v) || v < 0 || (name !== 'warmup' && v === 0)) {
    console.error(`--${name}: expected a positive integer`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------------------------
// build



// ---------------------------------------------------------------------------------------------
// child processes





// ---------------------------------------------------------------------------------------------
// HTTP

/** Creates principal `bench` and a key with scope `read` through the admin API; returns the key (checked valid). */
async function provisionKey(url: string, dataDir: string): Promise<string> {
  const admin = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  };
  await call('/v1/principals', { kind: 'service', name: 'bench' });
  // `verify` too: the guarded server's verifier follows the change stream with it.
  const key = (await call('/v1/keys', { owner: 'bench', name: 'bench', scopes: ['read', 'verify'] })).key as string;
  const res = await fetch(`${url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
  if (!((await res.json()) as { valid: boolean }).valid) throw new Error('the benchmark key does not verify');
  return key;
}


const warmed = new Set<string>();

async function load(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpFigure> {
  const base = { url, connections, ...options };
  if (warmup > 0 && !warmed.has(url)) await autocannon({ ...base, duration: warmup });
  warmed.add(url);
  const r: Result = await autocannon({ ...base, duration });
  if (r.non2xx > 0 || r.errors > 0) console.warn(`  ! ${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return {
    reqPerSec: Math.round(r.requests.average),
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

interface HttpResults {
  readonly connections: number;
  readonly durationSec: number;
  readonly rounds: number;
  readonly hello: HttpFigure;
  readonly keyturnVerify: HttpFigure;
  readonly guarded: HttpFigure & { readonly verifierStats?: unknown };
  /**
   * Median over rounds of each round's ratio to (a): rounds interleave the servers, so a ratio
   * within one round compares neighbours in time and a drift of the machine (or of the load
   * generator warming up) cancels out.
   */
  readonly ratios: { readonly keyturnVerifyVsHello: number; readonly guardedVsHello: number };
  /** Each round's ratio to (a). */
  readonly roundRatios: { readonly keyturnVerifyVsHello: number[]; readonly guardedVsHello: number[] };
  readonly targetMet: boolean;
  /** req/s of every round, per server. */
  readonly allRounds: Record<string, number[]>;
  readonly profile?: ProfileSummary;
}

async function benchHttp(): Promise<HttpResults> {
  const tsx = ['--import', 'tsx'];
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-bench-'));
  const profileDir = join(dataDir, 'profile');
  const children: Child[] = [];
  try {
    // Every server starts first and idles while another is measured; rounds interleave (a)(b)(c)
    // so a passing load on the machine does not favour one of them: ratios are taken within a round.
    const helloChild = startChild([...tsx, 'bench/servers/hello.ts']);
    children.push(helloChild);
    const helloUrl = `http://127.0.0.1:${(await helloChild.next()).port as number}/`;

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const nodeFlags = flags.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
    const keyturn = startChild([...nodeFlags, 'dist/cli/main.js', 'serve', '--data-dir', dataDir, '--port', String(port), '--log-level', 'silent']);
    children.push(keyturn);
    await waitFor(`${url}/healthz`);
    const key = await provisionKey(url, dataDir);
    const verifyBody = JSON.stringify({ key });

    const guardedChild = startChild([...tsx, 'bench/servers/guarded.ts'], { env: { KEYTURN_URL: url, KEYTURN_API_KEY: key } });
    children.push(guardedChild);
    const ready = await guardedChild.next();
    if (ready.stream !== 'open') console.warn('  ! the verifier change stream was not open');
    const guardedUrl = `http://127.0.0.1:${ready.port as number}/`;

    const post = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const targets: Record<string, () => Promise<HttpFigure>> = {
      hello: () => load(helloUrl),
      keyturnVerify: () => load(`${url}/v1/keys/verify`, post(verifyBody)),
      guarded: () => load(guardedUrl, { headers: { authorization: `Bearer ${key}` } }),
    };
    const labels: Record<string, string> = {
      hello: '(a) bare node:http hello-world',
      keyturnVerify: '(b) keyturn POST /v1/keys/verify',
      guarded: '(c) node:http + verifier middleware',
    };
    const rounds: Record<string, HttpFigure[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
    console.log(`HTTP: ${roundCount} round(s) of ${duration}s per server (after ${warmup}s warm-up), ${connections} connections`);
    for (let round = 1; round <= roundCount; round++) {
      for (const [name, run] of Object.entries(targets)) {
        const figure = await run();
        rounds[name]!.push(figure);
        const vs = name === 'hello' ? '' : ` (${pct(figure.reqPerSec / rounds.hello![round - 1]!.reqPerSec)} of (a) this round)`;
        console.log(`  round ${round} ${labels[name]}: ${figure.reqPerSec} req/s${vs}`);
      }
    }
    const best = (figures: HttpFigure[]) => figures.reduce((a, b) => (b.reqPerSec > a.reqPerSec ? b : a));
    const hello = best(rounds.hello!);
    const keyturnVerify = best(rounds.keyturnVerify!);
    const guardedFigure = best(rounds.guarded!);

    await guardedChild.stop();
    const stats = guardedChild.lines.find((l) => 'stats' in l)?.stats;
    await keyturn.stop();
    let profile: HttpResults['profile'];
    if (flags.profile) {
      const file = existsSync(profileDir) ? readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
      if (file) {
        const summary = summariseProfile(join(profileDir, file));
        printProfile(summary);
        profile = {
          busyMs: summary.busyMs,
          idleMs: summary.idleMs,
          areas: summary.areas.slice(0, 15),
          areasInclusive: summary.areasInclusive.slice(0, 15),
          functions: summary.functions.slice(0, 30),
          functionsInclusive: summary.functionsInclusive.slice(0, 40),
        };
      } else console.warn('  ! no CPU profile was written');
    }

    const perRound = (name: string) => rounds[name]!.map((f, i) => Math.round((f.reqPerSec / rounds.hello![i]!.reqPerSec) * 1000) / 1000);
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 ? sorted[mid]! : Math.round(((sorted[mid - 1]! + sorted[mid]!) / 2) * 1000) / 1000;
    };
    const roundRatios = { keyturnVerifyVsHello: perRound('keyturnVerify'), guardedVsHello: perRound('guarded') };
    const ratios = { keyturnVerifyVsHello: median(roundRatios.keyturnVerifyVsHello), guardedVsHello: median(roundRatios.guardedVsHello) };
    return {
      connections,
      durationSec: duration,
      rounds: roundCount,
      hello,
      keyturnVerify,
      guarded: { ...guardedFigure, ...(stats === undefined ? {} : { verifierStats: stats }) },
      ratios,
      roundRatios,
      targetMet: ratios.keyturnVerifyVsHello >= TARGETS.verifyVsHello,
      allRounds: Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, v.map((f) => f.reqPerSec)])),
      ...(profile ? { profile } : {}),
    };
  } finally {
    for (const child of children.reverse()) await child.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// in-process verify()

interface VerifierResults {
  readonly floorNsPerOp: number;
  readonly cachedVerifyNsPerOp: number;
  readonly floorOpsPerSec: number;
  readonly cachedVerifyOpsPerSec: number;
  /** cached verify ops/s ÷ floor ops/s. */
  readonly ratio: number;
  readonly targetMet: boolean;
}

async function benchVerifier(): Promise<VerifierResults> {
  const load = async <T>(path: string) => (await import(pathToFileURL(join(root, path)).href)) as T;
  const { createVerifier } = await load<VerifierModule>('dist/verifier/index.js');
  const { generateSecret } = await load<SecretModule>('dist/core/secret.js');
  const key = generateSecret('kt_live', { random: (n) => new Uint8Array(createHash('sha256').update('bench').digest()).slice(0, n) });
  const answer = { valid: true, keyId: 'key_bench', principal: 'prn_bench', scopes: ['read'], expiresAt: null };
  // The cached path never calls fetch after the first answer; a stub keeps the measure in-process.
  const verifier = createVerifier({ url: 'http://127.0.0.1:9', stream: false, cacheTtlMs: 3_600_000, fetch: async () => Response.json(answer) });
  if (!(await verifier.verify(key)).valid) throw new Error('priming verify failed');

  const map = new Map<string, unknown>([[createHash('sha256').update(key, 'utf8').digest('hex'), answer]]);
  let sink: unknown;
  console.log('in-process: floor (SHA-256 + Map lookup) vs verify() of a cached key (mitata)');
  const floor = await measure(() => {
    sink = map.get(createHash('sha256').update(key, 'utf8').digest('hex'));
  });
  const cached = await measure(async () => {
    sink = await verifier.verify(key);
  });
  if (sink === undefined) throw new Error('unreachable');
  const stats = verifier.stats();
  await verifier.close();
  if (stats.upstreamRequests !== 1) throw new Error(`expected every measured verify to hit the cache, saw ${stats.upstreamRequests} requests`);
  const ratio = Math.round((floor.avg / cached.avg) * 1000) / 1000;
  return {
    floorNsPerOp: Math.round(floor.avg),
    cachedVerifyNsPerOp: Math.round(cached.avg),
    floorOpsPerSec: Math.round(1e9 / floor.avg),
    cachedVerifyOpsPerSec: Math.round(1e9 / cached.avg),
    ratio,
    targetMet: ratio >= TARGETS.cachedVerifyVsFloor,
  };
}

// ---------------------------------------------------------------------------------------------
// leak scanner (owned by bench/leaks.ts; optional)

async function benchLeaks(): Promise<unknown> {
  const spec = './leaks.js';
  let mod: { runLeakBench?: (options?: Record<string, unknown>) => unknown };
  try {
    mod = (await import(spec)) as typeof mod;
  } catch (err) {
    if (existsSync(join(root, 'bench/leaks.ts'))) throw err;
    console.log('leaks: bench/leaks.ts not present, skipped');
    return undefined;
  }
  if (typeof mod.runLeakBench !== 'function') {
    console.log('leaks: bench/leaks.ts does not export runLeakBench, skipped');
    return undefined;
  }
  console.log('leaks: runLeakBench()');
  return (await mod.runLeakBench()) ?? null;
}

// ---------------------------------------------------------------------------------------------

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const [n, row] of rows.entries()) {
    console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

async function main(): Promise<void> {
  if (only.has('http') || only.has('verifier')) ensureBuild();
  const previous = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>) : {};
  const results: Record<string, unknown> = {
    ...previous,
    date: new Date().toISOString(),
    machine: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpu: cpus()[0]?.model ?? null },
    targets: TARGETS,
  };

  const http = only.has('http') ? await benchHttp() : undefined;
  if (http) results.http = http;
  const inProcess = only.has('verifier') ? await benchVerifier() : undefined;
  if (inProcess) results.verifier = inProcess;
  if (only.has('oauth')) {
    const { runOAuthBench } = await import('./oauth.js');
    const { profile: _profile, ...oauth } = await runOAuthBench({ durationSec: duration, warmupSec: warmup, rounds: roundCount, connections });
    void _profile;
    results.oauth = oauth;
  }
  let leaks: unknown;
  if (only.has('leaks')) {
    leaks = await benchLeaks();
    if (leaks !== undefined) results.leaks = leaks;
    // Precision and recall on examples keyturn did not write (gitleaks' labelled rule examples).
    const { runLeakVectors, runThirdPartyProcesses } = await import('./leaks-vectors.js');
    results.leakVectors = runLeakVectors({ write: !flags['no-write'] });
    // Whole processes (keyturn's installed bin, secretlint's, rg) on those examples written out as files.
    results.leakVectorsProcesses = runThirdPartyProcesses();
    console.log(`leak scanner on the third-party set, whole processes: ${JSON.stringify(results.leakVectorsProcesses)}`);
  }

  if (only.has('cli')) {
    const { runCliBench } = await import('./cli.js');
    results.cli = await runCliBench();
  }
  if (only.has('binding')) {
    // Issue 13: bearer vs DPoP-bound vs mTLS-bound vs session-bound verification; thumbprint, exporter and proof cost.
    const { printBinding, runBindingBench } = await import('./binding.js');
    const binding = await runBindingBench({ rounds: roundCount });
    results.binding = binding;
    printBinding(binding);
  }
  if (only.has('auditlog')) {
    const { printAuditLog, runAuditLogBench } = await import('./auditlog.js');
    const auditlog = await runAuditLogBench({ durationSec: duration });
    results.auditlog = auditlog;
    printAuditLog(auditlog);
  }
  if (only.has('flood')) {
    // Issue 9: store growth and valid-key throughput during a flood of invalid keys and oversized client ids.
    const { printFlood, runFloodBench } = await import('./flood.js');
    const flood = await runFloodBench({ durationSec: duration, connections, floodConnections: connections });
    results.flood = flood;
    printFlood(flood);
  }
  if (only.has('audit')) {
    // Issue 12: verification throughput with every audit sink on versus auditing off.
    const { printAudit, runAuditBench } = await import('./audit-sinks.js');
    const audit = await runAuditBench({ durationSec: duration, connections, rounds: Math.max(1, Math.min(roundCount, 3)) });
    results.audit = audit;
    printAudit(audit);
  }

  if (only.has('rotation')) {
    // Issue 11: 100,000 keys due at once, verification while they rotate, the key holder's overhead.
    const { printRotation, runRotationBench } = await import('./rotation.js');
    const rotation = await runRotationBench({ keys: Number(flags['rotation-keys']), durationSec: duration, connections, profile: flags.profile === true });
    results.rotation = rotation;
    printRotation(rotation);
  }

  if (only.has('offboarding')) {
    const { runOffboardingBench } = await import('./offboarding.js');
    results.offboarding = await runOffboardingBench();
  }

  console.log('');
  if (http) {
    printTable([
      ['HTTP (autocannon, loopback)', 'best req/s', 'p50 ms', 'p99 ms', 'vs (a), median of rounds', 'target'],
      ['(a) node:http hello-world', String(http.hello.reqPerSec), String(http.hello.latencyP50Ms), String(http.hello.latencyP99Ms), '100%', ''],
      [
        '(b) keyturn POST /v1/keys/verify',
        String(http.keyturnVerify.reqPerSec),
        String(http.keyturnVerify.latencyP50Ms),
        String(http.keyturnVerify.latencyP99Ms),
        pct(http.ratios.keyturnVerifyVsHello),
        `≥ ${pct(TARGETS.verifyVsHello)} ${http.targetMet ? 'met' : 'MISSED'}`,
      ],
      ['(c) node:http + verifier middleware', String(http.guarded.reqPerSec), String(http.guarded.latencyP50Ms), String(http.guarded.latencyP99Ms), pct(http.ratios.guardedVsHello), ''],
    ]);
    console.log('');
  }
  if (inProcess) {
    printTable([
      ['in-process (mitata)', 'ns/op', 'ops/s', 'vs floor', 'target'],
      ['floor: SHA-256 + Map lookup', String(inProcess.floorNsPerOp), String(inProcess.floorOpsPerSec), '100%', ''],
      [
        'verify() of a cached key',
        String(inProcess.cachedVerifyNsPerOp),
        String(inProcess.cachedVerifyOpsPerSec),
        pct(inProcess.ratio),
        `≥ ${pct(TARGETS.cachedVerifyVsFloor)} ${inProcess.targetMet ? 'met' : 'MISSED'}`,
      ],
    ]);
    console.log('');
  }

  if (leaks !== null && typeof leaks === 'object') {
    const figures = Object.entries(leaks as Record<string, unknown>).filter(([, v]) => typeof v === 'number');
    console.log(`leak scanner (bench/leaks.ts): ${figures.map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log('');
  }
  if (!flags['no-write']) {
    mkdirSync(dirname(resultsFile), { recursive: true });
    writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`wrote ${resultsFile.slice(root.length + 1)}`);
  }
}

await main();
