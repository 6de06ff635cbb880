import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigFlags } from '../../src/config/schema.js';
import type { Context } from '../../src/core/context.js';
import type { Logger } from 'pino';
import { vi } from 'vitest';
import { CHECKPOINT_JOB } from '../../src/runtime/housekeeping.js';
import { createLogger } from '../../src/runtime/logger.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  /** The bootstrap admin key. */
  readonly adminKey: string;
  /** Calls the API with the admin key (or `token`); returns status and parsed JSON. */
  api<T = any>(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: T; headers: Headers }>;
  stop(): Promise<void>;
}

/** A loopback port free right now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * What a cluster node must be given on PostgreSQL (an explicit issuer, a shared master key): the
 * issuer is the URL the test server will listen on, so OAuth clients' discovery checks still hold.
 */
async function clusterSettings(overrides: ConfigFlags): Promise<ConfigFlags> {
  if (typeof overrides.db !== 'string' || !/^postgres(ql)?:\/\//.test(overrides.db)) return {};
  const port = overrides.port === undefined || Number(overrides.port) === 0 ? await freePort() : Number(overrides.port);
  return { port, issuer: overrides.issuer ?? `http://127.0.0.1:${port}`, masterKey: overrides.masterKey ?? randomBytes(32).toString('hex') };
}

/**
 * Waits for the checkpoint job's run at start, when the job is registered: its `audit.checkpoint`
 * event would otherwise land after a test's first steps (a sink added `--from now` received it).
 * Only this job: the other jobs' first runs are what some tests watch. A run that never comes fails
 * the start (vitest's `vi.waitFor`, 10 s).
 */
async function startupCheckpoint(server: RunningServer): Promise<void> {
  const runner = server.kt.jobs.runner;
  if (!(await runner.list()).some((j) => j.name === CHECKPOINT_JOB)) return;
  await vi.waitFor(
    async () => {
      if ((await runner.get(CHECKPOINT_JOB)).runs < 1) throw new Error(`${CHECKPOINT_JOB} has not run since the server started`);
    },
    { timeout: 10_000, interval: 20 },
  );
}

/**
 * Starts a real keyturn on a free loopback port with a temporary data dir (SQLite unless
 * `overrides.db` says otherwise).
 */
export async function startTestServer(overrides: ConfigFlags = {}, ctx?: Context, logger: Logger = createLogger('silent')): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-test-'));
  // Test receivers (webhooks, git remotes) listen on loopback: allowed here as an operator would
  // allow an internal network; a test of the refusal passes `egressAllow: 'none'`.
  // The detection engine adds findings about what a test does (a revoked key presented again) at a
  // time of its own; tests that list events exactly would race it. Tests of detections turn it on.
  const detections = JSON.stringify({ enabled: false });
  // Likewise the checkpoint timer (a minute): its `audit.checkpoint` event lands whenever the run
  // ends — on SQLite after the reader thread has started — so it is off unless a test asks for it;
  // checkpoints every `checkpointEvery` events stay on, and so does the job's one run at start
  // (it seals the bootstrap events), which is waited for below.
  const checkpointInterval = '0';
  let started: RunningServer | undefined;
  try {
    const config = loadConfig({ flags: { dataDir, port: 0, logLevel: 'silent', egressAllow: '127.0.0.0/8,::1', detections, checkpointInterval, ...overrides, ...(await clusterSettings(overrides)) } });
    started = await startServer(config, { logger, ...(ctx ? { ctx } : {}) });
    await startupCheckpoint(started);
  } catch (err) {
    // A start a test expects to be refused leaves no server and no data directory behind.
    await started?.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const server = started;
  const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
  return {
    ...server,
    dataDir,
    adminKey,
    async api(method, path, body, token) {
      const headers: Record<string, string> = {};
      const bearer = token === undefined ? adminKey : token;
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
