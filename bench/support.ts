/**
 * What every benchmark needs around the measurement: an up-to-date `dist/`, servers in child
 * processes (so the load generator and the server each get a core), free ports, readiness.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtime(path) : name.endsWith('.ts') ? stat.mtimeMs : 0);
  }
  return newest;
}

/**
 * The server's entry point as installed: `package.json` `bin.keyturn` (`dist/cli/keyturn.cjs`,
 * which sizes libuv's thread pool before loading `dist/cli/main.js`), relative to the root.
 */
export function installedBin(): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const bin = pkg.bin.keyturn;
  if (!bin) throw new Error('package.json has no bin.keyturn');
  return bin;
}

/** Builds `dist` as `npm run build` does (tsc, then the bundles) when it is missing or older than a source file. */
export function ensureBuild(): void {
  const outputs = ['dist/cli/main.js', 'dist/verifier/index.js'].map((p) => join(root, p));
  const built = outputs.every(existsSync) ? Math.min(...outputs.map((p) => statSync(p).mtimeMs)) : 0;
  if (built >= newestMtime(join(root, 'src'))) return;
  console.log('building dist/ (tsc -p tsconfig.build.json) …');
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (!outputs.every(existsSync)) throw new Error('build failed: dist/ is missing');
  if (tsc.status !== 0) console.warn('tsc reported errors; benchmarking the JavaScript it emitted');
  // The rest of `npm run build`: the bundles the installed bin runs (rules, the scan program).
  const bundle = spawnSync(process.execPath, [join(root, 'scripts/bundle-rules.mjs')], { cwd: root, stdio: 'inherit' });
  if (bundle.status !== 0) throw new Error('build failed: scripts/bundle-rules.mjs');
}

/** A server in a child process that reports itself as JSON lines on stdout. */
export interface Child {
  readonly proc: ChildProcess;
  /** Every JSON line the child printed so far. */
  readonly lines: Array<Record<string, unknown>>;
  /** The next JSON line not yet taken. */
  next(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * Starts `node <args>` from the repository root. Its stderr passes through unless `quietStderr`
 * matches a line (runtime warnings a peer prints on every start).
 */
export function startChild(args: string[], options: { env?: NodeJS.ProcessEnv; quietStderr?: RegExp } = {}): Child {
  const proc = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<(line: Record<string, unknown>) => void> = [];
  let read = 0;
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as Record<string, unknown>);
    } catch {
      return;
    }
    while (waiters.length > 0 && read < lines.length) waiters.shift()!(lines[read++]!);
  });
  createInterface({ input: proc.stderr! }).on('line', (text) => {
    if (!options.quietStderr?.test(text)) console.error(`  [child] ${text}`);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    lines,
    next: () =>
      new Promise((resolve, reject) => {
        if (read < lines.length) return resolve(lines[read++]!);
        waiters.push(resolve);
        void exited.then(() => reject(new Error(`child ${args.join(' ')} exited early`)));
      }),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until `url` answers 2xx (30 s at most). */
export async function waitFor(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One server's figures from an autocannon run. */
export interface HttpFigure {
  readonly reqPerSec: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
}

/**
 * POSTs JSON to a keyturn server started by a bench with `dataDir` as its data directory,
 * authenticated with the bootstrap admin key it wrote there; the answer's JSON, or a throw naming
 * the path and status.
 */
export function adminCaller(url: string, dataDir: string): (path: string, body: unknown) => Promise<Record<string, unknown>> {
  const admin = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
  return async (path, body) => {
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  };
}
