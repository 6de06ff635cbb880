/**
 * How long a CLI command takes as a user meets it: the installed bin (`package.json` `bin.keyturn`, run
 * through its shebang as `npm install -g` / `npm link` installs it) as a whole new process, against
 * a keyturn server on loopback. Time to the first byte on stdout, and to exit; median and p90 of
 * `runs` processes after one untimed run. `node -e 0` is the floor: a process that loads nothing.
 *
 * `npx tsx bench/cli.ts` alone, or the `cli` section of `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuild, freePort, installedBin, root, startChild, waitFor } from './support.js';

/** The target of the first-run issue: `keyturn keys list` to first byte. */
export const CLI_TARGET_MS = 150;

export interface CliFigure {
  readonly firstByteMsMedian: number;
  readonly firstByteMsP90: number;
  readonly exitMsMedian: number;
}

export interface CliResults {
  readonly runs: number;
  readonly floor: CliFigure;
  readonly keysList: CliFigure;
  readonly version: CliFigure;
  readonly targetMs: number;
  readonly targetMet: boolean;
}

function timeOnce(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ firstByte: number; exit: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    let firstByte = -1;
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', () => {
      if (firstByte < 0) firstByte = Number(process.hrtime.bigint() - start) / 1e6;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const exit = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) return reject(new Error(`${command} ${args.join(' ')} exited with ${code}`));
      resolve({ firstByte: firstByte < 0 ? exit : firstByte, exit });
    });
  });
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10;
};

async function measure(command: string, args: string[], env: NodeJS.ProcessEnv, runs: number): Promise<CliFigure> {
  await timeOnce(command, args, env); // page cache and compile cache warm, as for a user's second call
  const first: number[] = [];
  const exit: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = await timeOnce(command, args, env);
    first.push(t.firstByte);
    exit.push(t.exit);
  }
  return { firstByteMsMedian: quantile(first, 0.5), firstByteMsP90: quantile(first, 0.9), exitMsMedian: quantile(exit, 0.5) };
}

/** Runs the CLI benchmark and prints its table. */
export async function runCliBench(options: { runs?: number } = {}): Promise<CliResults> {
  const runs = options.runs ?? 20;
  ensureBuild();
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-bench-cli-'));
  const port = await freePort();
  const server = startChild(['dist/cli/main.js', 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn']);
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`${url}/healthz`);
    const bin = join(root, installedBin());
    chmodSync(bin, 0o755); // as `npm install -g` / `npm link` leave the bin; tsc writes it 0644
    const env = { KEYTURN_URL: url, KEYTURN_TOKEN: readFileSync(join(dataDir, 'admin.key'), 'utf8').trim() };
    // Something to list: a principal and ten keys.
    await timeOnce(process.execPath, [bin, 'principals', 'create', '--kind', 'service', '--name', 'bench'], env);
    for (let i = 0; i < 10; i++) await timeOnce(process.execPath, [bin, 'keys', 'create', '--owner', 'bench', '--name', `k${i}`, '--scopes', 'read'], env);
    const floor = await measure(process.execPath, ['-e', 'process.stdout.write("x")'], {}, runs);
    const version = await measure(bin, ['--version'], env, runs);
    const keysList = await measure(bin, ['keys', 'list'], env, runs);
    const results: CliResults = { runs, floor, keysList, version, targetMs: CLI_TARGET_MS, targetMet: keysList.firstByteMsMedian < CLI_TARGET_MS };
    console.log('');
    console.log(`CLI from the installed bin, ${runs} processes each (median / p90 to first byte, median to exit)`);
    for (const [name, f] of [
      ['node -e (floor)', floor],
      ['keyturn --version', version],
      ['keyturn keys list', keysList],
    ] as const) {
      console.log(`  ${name.padEnd(20)} ${String(f.firstByteMsMedian).padStart(7)} / ${String(f.firstByteMsP90).padStart(7)} ms   exit ${f.exitMsMedian} ms`);
    }
    console.log(`  target: keys list < ${CLI_TARGET_MS} ms to first byte: ${results.targetMet ? 'met' : 'MISSED'}`);
    return results;
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runCliBench();
}
