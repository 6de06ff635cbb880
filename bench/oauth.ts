/**
 * OAuth benchmark: `npx tsx bench/oauth.ts [--duration 10] [--warmup 3] [--rounds 2] [--slices 5] [--connections 50] [--profile] [--token-only] [--no-write]`
 *
 * In one run, on loopback, each server in its own child process, autocannon in this process:
 * - token endpoint: keyturn (its installed bin, `node dist/cli/keyturn.cjs serve`, SQLite) against oidc-provider, both
 *   answering `client_credentials` with `client_secret_basic` and an ES256 JWT access token
 *   (RFC 9068) for one resource;
 * - introspection: keyturn introspecting its JWT and its opaque access tokens, oidc-provider
 *   introspecting its opaque access tokens (oidc-provider cannot introspect its JWT access
 *   tokens: "Structured JWT Tokens cannot be introspected");
 * - in-process (mitata): local verification of a keyturn access token — keyturn's verifier
 *   (`createJwtVerifier({ jwks, issuer, audience }).verify`) when `src/verifier` has it, else
 *   `jose.jwtVerify` against a cached local JWKS with the checks a resource server makes — against
 *   raw `jose.jwtVerify` with the key in hand.
 *
 * Targets (issue 3): keyturn's token endpoint ≥ 2× oidc-provider's req/s; local verification ≥ 90%
 * of raw jose. `--profile` runs keyturn under `node --cpu-prof` and prints where its time goes.
 * Writes the figures into `bench/results/oauth.json` unless `--no-write`.
 */
import autocannon, { type Result } from 'autocannon';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK } from 'jose';
import { measure } from 'mitata';
import { ensureBuild, freePort, installedBin, root, startChild, waitFor, type HttpFigure as BaseFigure } from './support.js';

const self = fileURLToPath(import.meta.url);
const AUDIENCE = 'https://api.example.com';
const TARGETS = { tokenVsOidcProvider: 2, localVerifyVsJose: 0.9 } as const;

export interface OAuthBenchOptions {
  readonly durationSec?: number;
  readonly warmupSec?: number;
  readonly rounds?: number;
  readonly connections?: number;
  readonly profile?: boolean;
  /** Load only the two token endpoints (no introspection, no local verification): for profiling and quick rounds. */
  readonly tokenOnly?: boolean;
  /** Turns per round: each target loaded `durationSec / slices` seconds per turn, the targets alternating (default 5). */
  readonly slices?: number;
}

interface HttpFigure extends BaseFigure {
  readonly rounds: number[];
  /** CPU time the server process spent (all its threads) per answered request, each round (Linux only). */
  readonly serverCpuUsPerRequest?: number[];
}

/** CPU time (user + system, every thread) process `pid` has used so far, in ms; `undefined` off Linux. */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// oidc-provider, as a child process (`--serve-oidc-provider <port>`)

const OP_CLIENT = { id: 'bench', secret: 'bench-secret-0123456789abcdef' } as const;

async function serveOidcProvider(port: number): Promise<void> {
  // oidc-provider ships no types; the bench only needs its constructor and listen().
  const moduleName = 'oidc-provider';
  const { default: Provider } = (await import(moduleName)) as { default: new (issuer: string, config: Record<string, unknown>) => { listen(port: number, host: string, cb: () => void): unknown } };
  const es = await generateKeyPair('ES256', { extractable: true });
  const rs = await generateKeyPair('RS256', { extractable: true });
  const jwks = {
    keys: [
      { ...(await exportJWK(es.privateKey)), kid: 'es256', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rs.privateKey)), kid: 'rs256', alg: 'RS256', use: 'sig' }, // oidc-provider wants an RS256 key for ID tokens
    ],
  };
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [
      {
        client_id: OP_CLIENT.id,
        client_secret: OP_CLIENT.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'read',
      },
    ],
    jwks,
    scopes: ['read'],
    ttl: { ClientCredentials: 900 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        // The token endpoint benchmark's resource: an ES256 JWT access token, as keyturn issues.
        // `urn:bench:opaque` gives opaque tokens, the only kind oidc-provider can introspect.
        getResourceServerInfo: (_ctx: unknown, resource: string) =>
          resource === 'urn:bench:opaque'
            ? { scope: 'read', audience: resource, accessTokenFormat: 'opaque', accessTokenTTL: 900 }
            : { scope: 'read', audience: AUDIENCE, accessTokenFormat: 'jwt', accessTokenTTL: 900, jwt: { sign: { alg: 'ES256' } } },
      },
    },
  });
  provider.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ listening: port })));
}

// ---------------------------------------------------------------------------------------------
// plumbing







const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

async function postForm(url: string, authorization: string, body: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { authorization, 'content-type': FORM }, body });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

interface Target {
  readonly url: string;
  readonly authorization: string;
  readonly body: string;
  /** The server process, to measure its CPU time per request. */
  readonly pid?: number | undefined;
}

async function load(target: Target, connections: number, durationSec: number): Promise<Result> {
  return autocannon({
    url: target.url,
    connections,
    duration: durationSec,
    method: 'POST',
    headers: { authorization: target.authorization, 'content-type': FORM },
    body: target.body,
  });
}

/**
 * Runs every target `rounds` times and warms each up first. A round is `slices` turns: in each,
 * every target is loaded for `durationSec / slices` seconds, one after the other, so that a change
 * of the machine's speed during the round (a shared VM's neighbours) hits every target alike
 * instead of whichever ran in that stretch. A round's req/s is its requests over its seconds.
 */
async function measureHttp(targets: Record<string, Target>, o: Required<OAuthBenchOptions>): Promise<Record<string, HttpFigure>> {
  const results: Record<string, Result[]> = {};
  const perRound: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(targets)) {
    if (o.warmupSec > 0) await load(t, o.connections, o.warmupSec);
    results[name] = [];
    perRound[name] = [];
  }
  const slices = Math.max(1, Math.round(o.slices));
  const sliceSec = Math.max(1, Math.round(o.durationSec / slices));
  for (let round = 0; round < o.rounds; round++) {
    const requests: Record<string, number> = {};
    const seconds: Record<string, number> = {};
    const cpuMs: Record<string, number> = {};
    for (let slice = 0; slice < slices; slice++) {
      for (const [name, t] of Object.entries(targets)) {
        const before = processCpuMs(t.pid);
        const r = await load(t, o.connections, sliceSec);
        const after = processCpuMs(t.pid);
        if (before !== undefined && after !== undefined) cpuMs[name] = (cpuMs[name] ?? 0) + (after - before);
        if (r.non2xx > 0 || r.errors > 0) console.warn(`  ! ${name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
        results[name]!.push(r);
        requests[name] = (requests[name] ?? 0) + r.requests.total;
        seconds[name] = (seconds[name] ?? 0) + r.duration;
      }
    }
    for (const name of Object.keys(targets)) {
      const rate = Math.round(requests[name]! / seconds[name]!);
      perRound[name]!.push(rate);
      if (cpuMs[name] !== undefined) (cpu[name] ??= []).push(Math.round((cpuMs[name] * 1000) / Math.max(1, requests[name]!)));
      console.log(`  round ${round + 1} ${name.padEnd(26)} ${rate} req/s`);
    }
  }
  const figures: Record<string, HttpFigure> = {};
  for (const [name, rs] of Object.entries(results)) {
    const rounds = perRound[name]!;
    figures[name] = {
      reqPerSec: Math.round(rounds.reduce((a, b) => a + b, 0) / rounds.length),
      latencyP50Ms: Math.max(...rs.map((r) => r.latency.p50)),
      latencyP99Ms: Math.max(...rs.map((r) => r.latency.p99)),
      requests: rs.reduce((a, r) => a + r.requests.total, 0),
      non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      rounds,
      ...(cpu[name] ? { serverCpuUsPerRequest: cpu[name] } : {}),
    };
  }
  return figures;
}

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

// ---------------------------------------------------------------------------------------------
// local verification

interface JwtVerifier {
  readonly name: string;
  verify(token: string): Promise<{ valid: boolean }>;
  close(): Promise<void>;
}

/**
 * keyturn's JWT verifier with a fixed JWKS: `createJwtVerifier(...).verify` or, failing that,
 * `createVerifier(...).verifyJwt`, when src/verifier has them; `undefined` otherwise.
 */
async function keyturnJwtVerifier(issuer: string, jwks: { keys: JWK[] }, token: string): Promise<JwtVerifier | undefined> {
  const options = { url: issuer, issuer, audience: AUDIENCE, jwks };
  let verifier: JwtVerifier | undefined;
  try {
    const mod = (await import('../src/verifier/index.js')) as Record<string, unknown>;
    if (typeof mod.createJwtVerifier === 'function') {
      const v = (mod.createJwtVerifier as (o: Record<string, unknown>) => { verify(t: string): Promise<{ valid: boolean }> })({ issuer, audience: AUDIENCE, jwks });
      verifier = { name: 'createJwtVerifier({ issuer, audience, jwks }).verify(token)', verify: (t) => v.verify(t), close: async () => undefined };
    } else if (typeof mod.createVerifier === 'function') {
      const v = (mod.createVerifier as (o: Record<string, unknown>) => { verifyJwt?(t: string): Promise<{ valid: boolean }>; close(): Promise<void> })(options);
      if (typeof v.verifyJwt !== 'function') await v.close();
      else verifier = { name: 'createVerifier({ url, issuer, audience, jwks }).verifyJwt(token)', verify: (t) => v.verifyJwt!(t), close: () => v.close() };
    }
    if (!verifier) return undefined;
    const check = await verifier.verify(token);
    if (!check.valid) {
      console.warn(`  ! keyturn's verifier refused the benchmark token: ${JSON.stringify(check)}`);
      await verifier.close();
      return undefined;
    }
    return verifier;
  } catch (err) {
    console.warn(`  ! keyturn's verifier is not usable here: ${(err as Error).message}`);
    await verifier?.close();
    return undefined;
  }
}

async function measureLocalVerification(token: string, jwks: { keys: JWK[] }, issuer: string): Promise<Record<string, unknown>> {
  const { kid } = decodeProtectedHeader(token);
  const jwk = jwks.keys.find((k) => k.kid === kid);
  if (!jwk) throw new Error('the token was not signed by a key in the JWKS');
  const key = await importJWK(jwk, 'ES256');
  const localSet = createLocalJWKSet(jwks);
  const checks = { algorithms: ['ES256', 'EdDSA'], issuer, audience: AUDIENCE, typ: 'at+jwt', requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'] };
  const verifier = await keyturnJwtVerifier(issuer, jwks, token);
  let sink: unknown;
  // Raw jose: the public key in hand, the one algorithm, no claim checks beyond exp/nbf.
  const rawOnce = () =>
    measure(async () => {
      sink = await jwtVerify(token, key, { algorithms: ['ES256'] });
    });
  // keyturn's verifier when src/verifier has one; else what a resource server embedding it would
  // do: jose against the cached local JWKS (kid lookup) with every RFC 9068 check.
  const localOnce = () =>
    verifier
      ? measure(async () => {
          sink = await verifier.verify(token);
        })
      : measure(async () => {
          sink = await jwtVerify(token, localSet, checks);
        });
  // Alternate three rounds and keep the median of each, so that load from elsewhere on the
  // machine hits both sides alike.
  const rawAvgs: number[] = [];
  const localAvgs: number[] = [];
  for (let i = 0; i < 3; i++) {
    rawAvgs.push((await rawOnce()).avg);
    localAvgs.push((await localOnce()).avg);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
  const raw = { avg: median(rawAvgs) };
  const local = { avg: median(localAvgs) };
  await verifier?.close();
  if (sink === undefined) throw new Error('unreachable');
  return {
    measured: verifier
      ? `keyturn's verifier: ${verifier.name}`
      : 'jose.jwtVerify with a cached local JWKS and RFC 9068 checks (src/verifier has no usable verifyJwt)',
    keyturnVerifier: Boolean(verifier),
    rawJoseOpsPerSec: Math.round(1e9 / raw.avg),
    localVerifyOpsPerSec: Math.round(1e9 / local.avg),
    rawJoseOpsPerSecRounds: rawAvgs.map((ns) => Math.round(1e9 / ns)),
    localVerifyOpsPerSecRounds: localAvgs.map((ns) => Math.round(1e9 / ns)),
    rawJoseNsPerOp: Math.round(raw.avg),
    localVerifyNsPerOp: Math.round(local.avg),
    ratio: Math.round((raw.avg / local.avg) * 1000) / 1000,
    target: TARGETS.localVerifyVsJose,
    targetMet: raw.avg / local.avg >= TARGETS.localVerifyVsJose,
  };
}

// ---------------------------------------------------------------------------------------------
// the benchmark

/** Runs the OAuth benchmark and returns its figures (also printed as a table). */
/** What every results file starts with: when, where, and how the load was made. */
function runHeader(o: Required<OAuthBenchOptions>): Record<string, unknown> {
  return { at: new Date().toISOString(), node: process.version, cpus: cpus().length, connections: o.connections, durationSec: o.durationSec, rounds: o.rounds, slices: o.slices };
}

/** The token endpoints side by side: the best rounds' ratio, each round's, and the target. */
function tokenResult(http: Record<string, HttpFigure>): Record<string, unknown> {
  const k = http['keyturn token']!;
  const p = http['oidc-provider token']!;
  const tokenRatio = ratio(k.reqPerSec, p.reqPerSec);
  return {
    keyturn: k,
    oidcProvider: p,
    ratio: tokenRatio,
    roundRatios: k.rounds.map((r, i) => ratio(r, p.rounds[i]!)),
    target: TARGETS.tokenVsOidcProvider,
    targetMet: tokenRatio >= TARGETS.tokenVsOidcProvider,
  };
}

export async function runOAuthBench(options: OAuthBenchOptions = {}): Promise<Record<string, unknown>> {
  const o: Required<OAuthBenchOptions> = { durationSec: 10, warmupSec: 3, rounds: 2, connections: 50, profile: false, tokenOnly: false, slices: 5, ...options };
  ensureBuild();
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-oauth-bench-'));
  const profileDir = join(dataDir, 'profile');
  const [ktPort, opPort] = [await freePort(), await freePort()];
  const ktArgs = [
    ...(o.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
    join(root, installedBin()),
    'serve',
    '--data-dir',
    dataDir,
    '--port',
    String(ktPort),
    '--log-level',
    'silent',
  ];
  // oidc-provider prints runtime and adapter warnings on every start.
  const quietStderr = /^oidc-provider (WARNING|NOTICE)|^\(node:\d+\) |--trace-/;
  const kt = startChild(ktArgs, { env: { NODE_ENV: 'production' }, quietStderr });
  const op = startChild(['--import', 'tsx', self, '--serve-oidc-provider', String(opPort)], { env: { NODE_ENV: 'production' }, quietStderr });
  try {
    const ktUrl = `http://127.0.0.1:${ktPort}`;
    const opUrl = `http://127.0.0.1:${opPort}`;
    await waitFor(`${ktUrl}/healthz`);
    await op.next();
    await waitFor(`${opUrl}/.well-known/openid-configuration`);

    // keyturn: one JWT client (the default policy: ES256, 15 min) and one opaque one.
    const admin = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
    const register = async (body: Record<string, unknown>) => {
      const res = await fetch(`${ktUrl}/v1/clients`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.status !== 201) throw new Error(`register client: HTTP ${res.status} ${await res.text()}`);
      const json = (await res.json()) as { client_id: string; client_secret: string };
      return basic(json.client_id, json.client_secret);
    };
    const ktJwtAuth = await register({ name: 'bench-jwt', scopes: ['read'], grantTypes: ['client_credentials'], audiences: [AUDIENCE] });
    const ktOpaqueAuth = await register({ name: 'bench-opaque', scopes: ['read'], grantTypes: ['client_credentials'], audiences: [AUDIENCE], policyOverrides: { accessTokenFormat: 'opaque' } });
    const opAuth = basic(OP_CLIENT.id, OP_CLIENT.secret);
    const ccBody = 'grant_type=client_credentials&scope=read';

    // Check that each server answers what we claim it does before loading it.
    const ktToken = (await postForm(`${ktUrl}/oauth/token`, ktJwtAuth, ccBody)).access_token as string;
    const ktOpaque = (await postForm(`${ktUrl}/oauth/token`, ktOpaqueAuth, ccBody)).access_token as string;
    const opToken = (await postForm(`${opUrl}/token`, opAuth, ccBody)).access_token as string;
    const opOpaque = (await postForm(`${opUrl}/token`, opAuth, `${ccBody}&resource=urn%3Abench%3Aopaque`)).access_token as string;
    for (const [name, t] of [['keyturn', ktToken], ['oidc-provider', opToken]] as const) {
      const h = decodeProtectedHeader(t);
      if (h.alg !== 'ES256' || h.typ !== 'at+jwt') throw new Error(`${name} did not issue an ES256 at+jwt: ${JSON.stringify(h)}`);
    }
    if (opOpaque.includes('.')) throw new Error('oidc-provider did not issue an opaque token for urn:bench:opaque');
    for (const [url, auth, token] of [[`${ktUrl}/oauth/introspect`, ktJwtAuth, ktToken], [`${ktUrl}/oauth/introspect`, ktOpaqueAuth, ktOpaque], [`${opUrl}/token/introspection`, opAuth, opOpaque]] as const) {
      const info = await postForm(url, auth, `token=${encodeURIComponent(token)}`);
      if (info.active !== true) throw new Error(`${url}: token not active: ${JSON.stringify(info)}`);
    }

    console.log(`OAuth: autocannon, ${o.connections} connections, ${o.durationSec}s × ${o.rounds} rounds in ${o.slices} alternating slices (+${o.warmupSec}s warm-up), ${cpus().length} CPUs, Node ${process.version}`);
    const tokenTargets = {
      'keyturn token': { url: `${ktUrl}/oauth/token`, authorization: ktJwtAuth, body: ccBody, pid: kt.proc.pid },
      'oidc-provider token': { url: `${opUrl}/token`, authorization: opAuth, body: ccBody, pid: op.proc.pid },
    };
    if (o.tokenOnly) {
      const http = await measureHttp(tokenTargets, o);
      const results: Record<string, unknown> = { ...runHeader(o), token: tokenResult(http) };
      console.log(JSON.stringify(results.token));
      await kt.stop();
      if (o.profile) await summariseKeyturnProfile(profileDir, results);
      return results;
    }
    const http = await measureHttp(
      {
        ...tokenTargets,
        'keyturn introspect (jwt)': { url: `${ktUrl}/oauth/introspect`, authorization: ktJwtAuth, body: `token=${encodeURIComponent(ktToken)}` },
        'keyturn introspect (opaque)': { url: `${ktUrl}/oauth/introspect`, authorization: ktOpaqueAuth, body: `token=${encodeURIComponent(ktOpaque)}` },
        'oidc-provider introspect': { url: `${opUrl}/token/introspection`, authorization: opAuth, body: `token=${encodeURIComponent(opOpaque)}` },
      },
      o,
    );

    console.log('local verification (mitata) …');
    const jwks = (await (await fetch(`${ktUrl}/oauth/jwks`)).json()) as { keys: JWK[] };
    const verification = await measureLocalVerification(ktToken, jwks, ktUrl);

    const fig = (name: string) => http[name]!;
    const results = {
      ...runHeader(o),
      token: tokenResult(http),
      introspection: {
        keyturnJwt: fig('keyturn introspect (jwt)'),
        keyturnOpaque: fig('keyturn introspect (opaque)'),
        oidcProviderOpaque: fig('oidc-provider introspect'),
        ratioJwtVsOidcProvider: ratio(fig('keyturn introspect (jwt)').reqPerSec, fig('oidc-provider introspect').reqPerSec),
        ratioOpaqueVsOidcProvider: ratio(fig('keyturn introspect (opaque)').reqPerSec, fig('oidc-provider introspect').reqPerSec),
      },
      verification,
    } as Record<string, unknown>;

    printTable(results);
    await kt.stop();
    if (o.profile) await summariseKeyturnProfile(profileDir, results);
    return results;
  } finally {
    await Promise.all([kt.stop(), op.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Saves keyturn's CPU profile under bench/results and prints its summary. */
async function summariseKeyturnProfile(profileDir: string, results: Record<string, unknown>): Promise<void> {
  const file = existsSync(profileDir) ? readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
  if (!file) return;
  const saved = join(root, 'bench/results/oauth-keyturn.cpuprofile');
  mkdirSync(dirname(saved), { recursive: true });
  writeFileSync(saved, readFileSync(join(profileDir, file)));
  results.profileFile = 'bench/results/oauth-keyturn.cpuprofile';
  try {
    const profile = (await import('./profile.js')) as { summariseProfile(path: string): unknown; printProfile(summary: unknown, top?: number): void };
    const summary = profile.summariseProfile(saved);
    profile.printProfile(summary, 25);
    results.profile = summary;
  } catch (err) {
    console.log(`profile written to ${saved} (${(err as Error).message})`);
  }
}

function printTable(r: Record<string, unknown>): void {
  const t = r.token as { keyturn: HttpFigure; oidcProvider: HttpFigure; ratio: number; targetMet: boolean };
  const i = r.introspection as { keyturnJwt: HttpFigure; keyturnOpaque: HttpFigure; oidcProviderOpaque: HttpFigure; ratioJwtVsOidcProvider: number; ratioOpaqueVsOidcProvider: number };
  const v = r.verification as { rawJoseOpsPerSec: number; localVerifyOpsPerSec: number; ratio: number; targetMet: boolean; measured: string };
  const row = (name: string, f: HttpFigure, note = '') =>
    console.log(`${name.padEnd(34)} ${String(f.reqPerSec).padStart(8)} req/s   p50 ${String(f.latencyP50Ms).padStart(4)} ms   p99 ${String(f.latencyP99Ms).padStart(4)} ms   ${note}`);
  console.log('\nOAuth benchmark');
  row('keyturn token (cc, basic, ES256)', t.keyturn, `${t.ratio}× oidc-provider (target ≥ ${TARGETS.tokenVsOidcProvider}×: ${t.targetMet ? 'met' : 'MISSED'})`);
  row('oidc-provider token (same)', t.oidcProvider);
  row('keyturn introspect (JWT)', i.keyturnJwt, `${i.ratioJwtVsOidcProvider}× oidc-provider`);
  row('keyturn introspect (opaque)', i.keyturnOpaque, `${i.ratioOpaqueVsOidcProvider}× oidc-provider`);
  row('oidc-provider introspect (opaque)', i.oidcProviderOpaque);
  console.log(`${'raw jose.jwtVerify'.padEnd(34)} ${String(v.rawJoseOpsPerSec).padStart(8)} ops/s`);
  console.log(
    `${'local verification'.padEnd(34)} ${String(v.localVerifyOpsPerSec).padStart(8)} ops/s   ${v.ratio} of raw jose (target ≥ ${TARGETS.localVerifyVsJose}: ${v.targetMet ? 'met' : 'MISSED'})`,
  );
  console.log(`  (${v.measured})\n`);
}

// ---------------------------------------------------------------------------------------------
// command line

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const { values } = parseArgs({
    options: {
      'serve-oidc-provider': { type: 'string' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
      profile: { type: 'boolean', default: false },
      'token-only': { type: 'boolean', default: false },
      slices: { type: 'string', default: '5' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  if (values['serve-oidc-provider'] !== undefined) {
    await serveOidcProvider(Number(values['serve-oidc-provider']));
  } else {
    const results = await runOAuthBench({
      durationSec: Number(values.duration),
      warmupSec: Number(values.warmup),
      rounds: Number(values.rounds),
      connections: Number(values.connections),
      profile: values.profile,
      tokenOnly: values['token-only'],
      slices: Number(values.slices),
    });
    if (!values['no-write'] && !values['token-only']) {
      const file = join(root, 'bench/results/oauth.json');
      mkdirSync(dirname(file), { recursive: true });
      const { profile: _profile, ...kept } = results;
      void _profile;
      writeFileSync(file, `${JSON.stringify(kept, null, 2)}\n`);
      console.log(`wrote ${file}`);
    }
  }
}
