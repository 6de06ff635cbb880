/**
 * Leak-scanner benchmark: a generated ~20 MiB tree of code and configuration with planted
 * synthetic secrets and decoys (and a git history of it), scanned in one run by keyturn,
 * secretlint (recommended preset) and a plain ripgrep pass with equivalent patterns.
 *
 * What each figure times:
 * - `keyturnProcess*`: `keyturn scan <tree> --format json`, a whole process as a
 *   user runs it (node start-up, module loading, cold JIT on every thread, printing the findings
 *   into a pipe); the median of RUNS after one untimed run that warms the page cache.
 * - `secretlint*`: secretlint's whole process from its installed bin (`node_modules/.bin/secretlint`).
 * - `ripgrep*`: `rg` with equivalent patterns, a whole process (median of RUNS after a warm-up).
 * - `keyturnInProcess*`: the scan alone, inside a process that has already scanned once (warm
 *   JIT on the calling thread); no start-up. Kept for tracking the engine, not for comparison
 *   with the whole-process figures.
 * - `staged*`: `keyturn scan --staged` (a pre-commit hook's whole process) in the
 *   history repository with a commit of a few files staged; the median of STAGED_RUNS, beside
 *   `node -e 0` (`nodeStart*`) measured the same way.
 *
 * Run alone: `npx tsx bench/leaks.ts` (`--no-secretlint` or `LEAKS_BENCH_SECRETLINT=0` skips
 * secretlint, which takes about a minute, while iterating; `--process-only` measures only the
 * whole processes of keyturn, ripgrep and `scan --staged`).
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Fake, generateCorpus, score } from '../test/leaks/support/corpus.js';
import { ensureBuild, installedBin } from './support.js';

/** One scan's outcome as a scan child reports it: findings without their secrets. */
interface ChildScan {
  readonly seconds: number;
  readonly bytes: number;
  readonly findings: { file: string; kind: string; fingerprint: string }[];
}

/**
 * The scan child: a fresh `node` process on the compiled scanner in `dist/` (as ripgrep and
 * secretlint run their shipped builds, each in its own process), so the harness's heap, loader
 * hooks and corpus sit beside none of the measured scans. It scans once on its own thread to warm
 * the page cache and its JIT, then once timed, as a user's `keyturn scan` does (worker threads
 * included), and prints seconds, bytes and the findings without their secrets.
 */
const SCAN_CHILD = `
const [config, scanner] = await Promise.all([import(process.env.KT_CONFIG), import(process.env.KT_SCANNER)]);
const [target, history] = [process.argv[2], process.argv[3] === 'history'];
const options = { config: config.buildEngineConfig(), history };
await scanner.runScan(scanner.parseTarget(target), { ...options, threads: 0 });
const t0 = process.hrtime.bigint();
const report = await scanner.runScan(scanner.parseTarget(target), options);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const { createHash } = await import('node:crypto');
// Scored against labels made with plain SHA-256: computed here from the secret (the output's fingerprints are keyed).
const findings = report.findings.map((f) => ({ file: f.file, kind: f.kind, fingerprint: createHash('sha256').update(f.secret).digest('hex') }));
process.stdout.write(JSON.stringify({ seconds, bytes: report.bytes, findings }));
`;

/** Seconds of one whole process, its stdout and exit status. */
export function processRun(cmd: string, args: readonly string[], cwd?: string): { seconds: number; stdout: string; status: number | null } {
  const t0 = process.hrtime.bigint();
  const run = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * MIB, ...(cwd ? { cwd } : {}) });
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, stdout: run.stdout, status: run.status };
}

/** Timed runs of the `--staged` process (and of `node -e 0`); the median counts. */
const STAGED_RUNS = 10;

/**
 * `keyturn scan --staged` as a pre-commit hook runs it, on `repo` with a commit of a few files
 * staged (three changed, two new, one planted secret); beside it, `node -e 0` timed the same way.
 */
function stagedBench(repo: string): Record<string, number | boolean> {
  const cli = join(ROOT, installedBin());
  const files = execFileSync('git', ['-C', repo, 'ls-files'], { encoding: 'utf8' }).split('\n').filter((f) => /\.(?:ts|js|py|ya?ml)$/.test(f)).slice(0, 3);
  for (const f of files) writeFileSync(join(repo, f), `${readFileSync(join(repo, f), 'utf8')}\n// changed for the staged benchmark\n`);
  writeTree(repo, new Map([
    ['staged/new-module.ts', 'export function add(a: number, b: number): number {\n  return a + b;\n}\n'.repeat(40)],
    ['staged/settings.env', `APP_NAME=bench\nSTRIPE_KEY=${new Fake(1414).stripe()}\n`],
  ]));
  git(repo, 'add', '-A');
  const median = (runs: number[]) => runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)] ?? 0;
  processRun(process.execPath, [cli, 'scan', '--staged'], repo);
  const staged: number[] = [];
  let status: number | null = null;
  let out = '';
  for (let i = 0; i < STAGED_RUNS; i++) {
    const run = processRun(process.execPath, [cli, 'scan', '--staged'], repo);
    staged.push(run.seconds);
    status = run.status;
    out = run.stdout;
  }
  const node: number[] = [];
  for (let i = 0; i < STAGED_RUNS; i++) node.push(processRun(process.execPath, ['-e', '0']).seconds);
  const stagedSeconds = median(staged);
  return {
    stagedFiles: files.length + 2,
    stagedExit: status ?? -1,
    stagedFindings: out.split('\n').filter((l) => /^staged\/settings\.env:2:/.test(l)).length,
    stagedSeconds: round(stagedSeconds),
    stagedMinSeconds: round(Math.min(...staged)),
    stagedUnder200ms: stagedSeconds < 0.2,
    nodeStartSeconds: round(median(node)),
  };
}

/**
 * `keyturn scan <tree> --format json` as a whole process: the median of RUNS after
 * one untimed run (page cache), with the findings it printed.
 */
function keyturnProcess(tree: string): { seconds: number; findings: { file: string; kind: string; fingerprint: string }[] } {
  const cli = join(ROOT, installedBin());
  // --no-redact: the labels are plain SHA-256 of each secret, the output's fingerprints are keyed.
  const args = [cli, 'scan', tree, '--format', 'json', '--no-redact'];
  processRun(process.execPath, args);
  const run = medianRun(RUNS, () => processRun(process.execPath, args));
  if (run.status !== 1) throw new Error(`keyturn scan exited ${run.status}`);
  const printed = JSON.parse(run.stdout) as { file: string; kind: string; match: string }[];
  return { seconds: run.seconds, findings: printed.map((f) => ({ file: f.file, kind: f.kind, fingerprint: createHash('sha256').update(f.match).digest('hex') })) };
}

function scanInChild(work: string, target: string, history = false): ChildScan {
  const url = (path: string) => pathToFileURL(join(ROOT, 'dist', path)).href;
  // A script file, not `-e`: worker threads inherit the process flags, and `--input-type` is not one they take.
  const script = join(work, 'scan-child.mjs');
  writeFileSync(script, SCAN_CHILD);
  const run = spawnSync(process.execPath, [script, target, history ? 'history' : 'tree'], {
    encoding: 'utf8',
    maxBuffer: 64 * MIB,
    env: { ...process.env, KT_CONFIG: url('leaks/scan/config.js'), KT_SCANNER: url('leaks/scan/scanner.js') },
  });
  if (run.status !== 0) throw new Error(`scan child failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as ChildScan;
}

/** The run with the median time of `runs` runs (each tool gets the same count). */
export function medianRun<T extends { seconds: number }>(runs: number, once: () => T): T {
  const all = Array.from({ length: runs }, once).sort((a, b) => a.seconds - b.seconds);
  return all[Math.floor(all.length / 2)] as T;
}

/** Timed runs per tool for the directory scan; the median counts. */
const RUNS = 3;

const MIB = 1024 * 1024;
const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

function writeTree(root: string, files: ReadonlyMap<string, string>): number {
  let bytes = 0;
  for (const [path, content] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
    bytes += Buffer.byteLength(content);
  }
  return bytes;
}

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', args, {
    cwd,
    stdio: 'ignore',
    env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@example.invalid', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@example.invalid' },
  });
}

async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** Patterns equivalent to keyturn's rules, in ripgrep's syntax (no look-around, no validators). */
export const RG_PATTERNS = [
  '\\bkt[a-z0-9]*(?:_[a-z0-9]+)*_[0-9A-Za-z]{49}\\b',
  '\\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\\b',
  '(?i)secret[_.-]?(?:access)?[_.-]?key["\']?\\s*[:=]\\s*["\']?[A-Za-z0-9/+]{40}',
  '\\bgh[pousr]_[A-Za-z0-9]{36}\\b',
  '\\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\\b',
  '\\b[sr]k_(?:live|test)_[A-Za-z0-9]{24,247}\\b',
  '\\bxox[baprseo]-(?:[0-9]{1,14}-){1,3}[A-Za-z0-9]{16,64}\\b',
  'https://hooks\\.slack\\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,40}',
  '\\bAIza[0-9A-Za-z_-]{35}\\b',
  '-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----',
  '\\beyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{16,}',
  '(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\\+srv)?|rediss?|amqps?)://[^\\s:@/]*:[^\\s@/]{4,200}@',
  '(?i)(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|auth[_-]?key|token)s?[A-Za-z0-9_.-]*["\']?[ \\t]*(?::=|=>|=|:)[ \\t]*["\']?[^\\s"\']{8,200}',
];

export function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Generates the tree and its history, scans with each tool, returns the measurements. */
export async function runLeakBench(options: { secretlint?: boolean; processOnly?: boolean } = {}): Promise<Record<string, unknown>> {
  const processOnly = options.processOnly ?? false;
  const withSecretlint = (options.secretlint ?? true) && !processOnly;
  ensureBuild();
  const work = mkdtempSync(join(tmpdir(), 'keyturn-leakbench-'));
  try {
    const corpus = generateCorpus({ seed: 20240601, scale: 30, fillerBytes: 16 * MIB });
    const tree = join(work, 'tree');
    const bytes = writeTree(tree, corpus.files);
    const mib = bytes / MIB;

    // keyturn, directory, whole process from the built bin: the median of RUNS
    const whole = keyturnProcess(tree);
    const scores = score(corpus.labels, whole.findings);
    // keyturn, directory, in process: the median of RUNS fresh processes, each warmed once (page cache, JIT)
    const dir = processOnly ? undefined : medianRun(RUNS, () => scanInChild(work, tree));

    // git history: the tree in three commits, some secrets deleted afterwards
    const repo = join(work, 'repo');
    mkdirSync(repo);
    git(repo, 'init', '-q', '-b', 'main');
    const paths = [...corpus.files.keys()];
    const thirds = [paths.slice(0, paths.length / 3), paths.slice(paths.length / 3, (2 * paths.length) / 3), paths.slice((2 * paths.length) / 3)];
    for (const [i, part] of thirds.entries()) {
      writeTree(repo, new Map(part.map((p) => [p, corpus.files.get(p) ?? ''])));
      git(repo, 'add', '-A');
      git(repo, 'commit', '-q', '-m', `part ${i}`);
    }
    for (const p of paths.slice(0, 50)) rmSync(join(repo, p));
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'remove some files');
    const history = processOnly ? undefined : scanInChild(work, repo, true);
    const historyScores = history ? score(corpus.labels, history.findings) : undefined;
    // keyturn scan --staged (a pre-commit hook) on a commit of a few files in that repository
    const staged = stagedBench(repo);

    // secretlint with its recommended preset
    let sl: { seconds: number } | undefined;
    let secretlintFindings = 0;
    if (withSecretlint) {
      const rc = join(work, '.secretlintrc.json');
      writeFileSync(rc, JSON.stringify({ rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] }));
      const secretlintBin = join(ROOT, 'node_modules', '.bin', 'secretlint');
      // Its report goes to a file: secretlint exits before a large report through a pipe is written out.
      const report = join(work, 'secretlint.json');
      const run = await timed(() =>
        spawnSync(secretlintBin, ['--secretlintrc', rc, '--format', 'json', '--maskSecrets', '--output', report, `${tree}/**/*`], { cwd: work, stdio: 'ignore' }),
      );
      sl = { seconds: run.seconds };
      try {
        for (const file of JSON.parse(readFileSync(report, 'utf8')) as { messages: unknown[] }[]) secretlintFindings += file.messages.length;
      } catch {
        secretlintFindings = -1;
      }
    }

    // ripgrep
    let rg: { seconds: number; matches: number } | undefined;
    if (which('rg')) {
      const args = ['--no-messages', '-c', '--no-ignore', '--hidden', ...RG_PATTERNS.flatMap((p) => ['-e', p]), tree];
      spawnSync('rg', args, { encoding: 'utf8', maxBuffer: 64 * MIB });
      rg = medianRun(RUNS, () => {
        const t0 = process.hrtime.bigint();
        const run = spawnSync('rg', args, { encoding: 'utf8', maxBuffer: 64 * MIB });
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        return { seconds, matches: run.stdout.split('\n').reduce((n, l) => n + Number(l.split(':').pop() || 0), 0) };
      });
    }

    const keyturnMiBs = mib / whole.seconds;
    const inProcessMiBs = dir ? mib / dir.seconds : undefined;
    const secretlintMiBs = sl ? mib / sl.seconds : undefined;
    const ripgrepMiBs = rg ? mib / rg.seconds : undefined;
    const perKind = Object.fromEntries(Object.entries(scores).map(([k, s]) => [k, { precision: round(s.precision), recall: round(s.recall), tp: s.tp, fp: s.fp, fn: s.fn }]));
    const opt = (n: number | undefined) => (n === undefined ? null : round(n));
    return {
      treeMiB: round(mib),
      files: corpus.files.size,
      planted: corpus.labels.length,
      // whole processes, each from its installed bin
      keyturnProcessMiBs: round(keyturnMiBs),
      keyturnProcessSeconds: round(whole.seconds),
      keyturnFindings: whole.findings.length,
      secretlintProcessMiBs: opt(secretlintMiBs),
      secretlintProcessSeconds: opt(sl?.seconds),
      secretlintFindings: sl ? secretlintFindings : null,
      ripgrepProcessMiBs: opt(ripgrepMiBs),
      ripgrepProcessSeconds: opt(rg?.seconds),
      ripgrepMatches: rg?.matches ?? null,
      processSpeedupVsSecretlint: secretlintMiBs === undefined ? null : round(keyturnMiBs / secretlintMiBs),
      processFractionOfRipgrep: ripgrepMiBs === undefined ? null : round(keyturnMiBs / ripgrepMiBs),
      // the scan alone, in a warmed process (no start-up): tracks the engine
      keyturnInProcessMiBs: opt(inProcessMiBs),
      keyturnInProcessSeconds: opt(dir?.seconds),
      inProcessFractionOfRipgrep: inProcessMiBs === undefined || ripgrepMiBs === undefined ? null : round(inProcessMiBs / ripgrepMiBs),
      keyturnHistoryInProcessMiBs: history ? round(history.bytes / MIB / history.seconds) : null,
      keyturnHistoryInProcessSeconds: opt(history?.seconds),
      historyPrecision: opt(historyScores?.overall?.precision),
      historyRecall: opt(historyScores?.overall?.recall),
      // keyturn scan --staged, a pre-commit hook's whole process
      ...staged,
      precision: perKind.overall?.precision,
      recall: perKind.overall?.recall,
      perKind,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const skip = process.argv.includes('--no-secretlint') || process.env.LEAKS_BENCH_SECRETLINT === '0';
  const result = await runLeakBench({ secretlint: !skip, processOnly: process.argv.includes('--process-only') });
  const { perKind, ...rest } = result as { perKind: Record<string, unknown> };
  console.table(rest);
  console.table(perKind);
}
