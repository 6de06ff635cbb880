/**
 * Leak scanner on third-party labelled examples: precision and recall per provider on the true-
 * and false-positive examples gitleaks keeps beside its rules (test/vectors/gitleaks/, source and
 * commit named there), and on the inputs of trufflehog's detector pattern tests
 * (test/vectors/trufflehog/). Prints tables and writes bench/results/leaks-vectors.json.
 *
 * With `--processes` ({@link runThirdPartyProcesses}), also the whole processes of keyturn,
 * secretlint and ripgrep on these examples written out as files (`--no-secretlint` skips it).
 *
 * Run alone: `npx tsx bench/leaks-vectors.ts [--no-write] [--processes]`; `npm run bench -- --only
 * leaks` runs both.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildEngineConfig } from '../src/leaks/scan/config.js';
import { compileEngine } from '../src/leaks/scan/detect.js';
import { loadGitleaksVectors, loadTrufflehogVectors, scoreTrufflehog, scoreVectors } from '../test/leaks/support/vectors.js';
import { medianRun, processRun, RG_PATTERNS, which } from './leaks.js';
import { ensureBuild, installedBin } from './support.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** The same scores on trufflehog's detector test inputs (precision: own-provider findings; strict: any finding). */
function trufflehogFigures(engine: ReturnType<typeof compileEngine>): Record<string, unknown> {
  const set = loadTrufflehogVectors();
  const t = scoreTrufflehog(engine, set);
  return {
    source: set.source,
    detectors: set.detectors.length,
    providers: Object.keys(t.perProvider).length,
    positives: t.overall.positives,
    negatives: t.overall.negatives,
    recall: round(t.overall.recall),
    precision: round(t.overall.precision),
    precisionAnyFinding: round(t.strict.precision),
    falsePositivesAnyFinding: t.strict.falsePositives,
    perProvider: Object.fromEntries(
      Object.entries(t.perProvider)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([p, s]) => [p, { positives: s.positives, found: s.found, negatives: s.negatives, falsePositives: s.falsePositives, recall: round(s.recall), precision: round(s.precision) }]),
    ),
  };
}

/** Scores the built-in rules on the gitleaks examples; returns (and writes) the figures. */
export function runLeakVectors(options: { write?: boolean } = {}): Record<string, unknown> {
  const set = loadGitleaksVectors();
  const engine = compileEngine(buildEngineConfig());
  const t0 = process.hrtime.bigint();
  const scores = scoreVectors(engine, set);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const perProvider = Object.fromEntries(
    Object.entries(scores.perProvider)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([p, s]) => [p, { positives: s.positives, found: s.found, negatives: s.negatives, falsePositives: s.falsePositives, recall: round(s.recall), precision: round(s.precision) }]),
  );
  const result = {
    source: set.source,
    providers: Object.keys(perProvider).length,
    positives: scores.overall.positives,
    negatives: scores.overall.negatives,
    recall: round(scores.overall.recall),
    precision: round(scores.overall.precision),
    seconds: round(seconds),
    perProvider,
    uncoveredGitleaksFiles: scores.uncovered,
    trufflehog: trufflehogFigures(engine),
  };
  if (options.write ?? true) {
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'leaks-vectors.json'), `${JSON.stringify(result, null, 2)}\n`);
  }
  return result;
}

/** Timed runs of keyturn and ripgrep on the third-party set; the median counts (secretlint: one run). */
const PROCESS_RUNS = 5;
/** secretlint's one run is stopped after this long and reported as `> N` seconds. */
const SECRETLINT_TIMEOUT_MS = 300_000;

/**
 * Whole processes on the third-party set, the way a user runs each tool from its installed bin:
 * every gitleaks example and trufflehog detector input (positives and negatives) written out as
 * one file in a temporary directory, then `keyturn scan <dir> --format json` (the installed bin,
 * `dist/cli/keyturn.cjs`), secretlint with its recommended preset (`node_modules/.bin/secretlint`)
 * and `rg` with the patterns `bench/leaks.ts` gives it on the benchmark tree. A set this small
 * mostly times each tool's start-up, which is what a user waits for on a small repository.
 * Returns seconds and MiB/s per tool (null when a tool is missing or `secretlint: false`).
 */
export function runThirdPartyProcesses(options: { secretlint?: boolean } = {}): Record<string, unknown> {
  ensureBuild();
  const work = mkdtempSync(join(tmpdir(), 'keyturn-vectors-'));
  try {
    const dir = join(work, 'examples');
    mkdirSync(dir);
    let files = 0;
    let bytes = 0;
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, `${String(files++).padStart(5, '0')}-${name.replace(/[^A-Za-z0-9_-]/g, '_')}.txt`), text);
      bytes += Buffer.byteLength(text);
    };
    for (const rule of loadGitleaksVectors().rules) {
      for (const text of rule.positives) write(`gitleaks-${rule.gitleaksRule}-tp`, text);
      for (const text of rule.negatives) write(`gitleaks-${rule.gitleaksRule}-fp`, text);
    }
    for (const d of loadTrufflehogVectors().detectors) {
      for (const text of d.positives) write(`trufflehog-${d.detector}-tp`, text);
      for (const text of d.negatives) write(`trufflehog-${d.detector}-fp`, text);
    }
    const mib = bytes / (1024 * 1024);
    const figures = (seconds: number | undefined) => (seconds === undefined ? { seconds: null, mibPerSecond: null } : { seconds: round(seconds), mibPerSecond: round(mib / seconds) });

    const cli = join(ROOT, installedBin());
    const keyturnArgs = [cli, 'scan', dir, '--format', 'json'];
    processRun(process.execPath, keyturnArgs);
    const keyturn = medianRun(PROCESS_RUNS, () => processRun(process.execPath, keyturnArgs));
    if (keyturn.status !== 1) throw new Error(`keyturn scan exited ${keyturn.status}`);
    const keyturnFindings = (JSON.parse(keyturn.stdout) as unknown[]).length;

    let secretlint: { seconds: number; findings: number } | undefined;
    let secretlintTimedOut = false;
    if (options.secretlint ?? true) {
      const rc = join(work, '.secretlintrc.json');
      writeFileSync(rc, JSON.stringify({ rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] }));
      const report = join(work, 'secretlint.json');
      const args = ['--secretlintrc', rc, '--format', 'json', '--maskSecrets', '--output', report, `${dir}/**/*`];
      const bin = join(ROOT, 'node_modules', '.bin', 'secretlint');
      // Bounded: on this set secretlint 12.0.0 did not finish within 300 s (2026-12-05, loaded).
      const t0 = process.hrtime.bigint();
      const run = spawnSync(bin, args, { cwd: work, stdio: 'ignore', timeout: SECRETLINT_TIMEOUT_MS });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (run.error !== undefined || run.signal !== null) {
        secretlintTimedOut = true;
      }
      let findings = -1;
      try {
        findings = (JSON.parse(readFileSync(report, 'utf8')) as { messages: unknown[] }[]).reduce((n, f) => n + f.messages.length, 0);
      } catch {
        // no report: findings stay -1
      }
      if (!secretlintTimedOut) secretlint = { seconds, findings };
    }

    let rg: { seconds: number; matches: number } | undefined;
    if (which('rg')) {
      const args = ['--no-messages', '-c', '--no-ignore', '--hidden', ...RG_PATTERNS.flatMap((p) => ['-e', p]), dir];
      spawnSync('rg', args, { encoding: 'utf8' });
      const run = medianRun(PROCESS_RUNS, () => processRun('rg', args));
      rg = { seconds: run.seconds, matches: run.stdout.split('\n').reduce((n, l) => n + Number(l.split(':').pop() || 0), 0) };
    }
    return {
      files,
      mib: round(mib),
      keyturn: { ...figures(keyturn.seconds), findings: keyturnFindings },
      secretlint: secretlint ? { ...figures(secretlint.seconds), findings: secretlint.findings } : secretlintTimedOut ? { seconds: `> ${SECRETLINT_TIMEOUT_MS / 1000}`, mibPerSecond: null, findings: null } : null,
      ripgrep: rg ? { ...figures(rg.seconds), matches: rg.matches } : null,
      keyturnVsSecretlint: secretlint ? round(secretlint.seconds / keyturn.seconds) : secretlintTimedOut ? `> ${round(SECRETLINT_TIMEOUT_MS / 1000 / keyturn.seconds)}` : null,
      keyturnFractionOfRipgrep: rg ? round(rg.seconds / keyturn.seconds) : null,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const result = runLeakVectors({ write: !process.argv.includes('--no-write') }) as { perProvider: Record<string, unknown> } & Record<string, unknown>;
  const { perProvider, uncoveredGitleaksFiles, source, trufflehog, ...rest } = result;
  console.log(`gitleaks examples, ${String((source as { commit: string }).commit).slice(0, 12)}:`);
  console.table(perProvider);
  console.table(rest);
  console.log(`gitleaks rule files keyturn has no provider rule for: ${(uncoveredGitleaksFiles as string[]).join(', ')}`);
  const { perProvider: thPerProvider, source: thSource, ...thRest } = trufflehog as Record<string, unknown>;
  console.log(`trufflehog detector test inputs, ${String((thSource as { commit: string }).commit).slice(0, 12)}:`);
  console.table(thPerProvider);
  console.table(thRest);
  if (process.argv.includes('--processes')) {
    const p = runThirdPartyProcesses({ secretlint: !process.argv.includes('--no-secretlint') });
    console.log(`whole processes on the third-party set (${String(p.files)} files, ${String(p.mib)} MiB), each from its installed bin:`);
    console.table({ keyturn: p.keyturn, secretlint: p.secretlint ?? {}, ripgrep: p.ripgrep ?? {} });
  }
}
