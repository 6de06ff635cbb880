/**
 * Leak scanner on third-party labelled examples: precision and recall per provider on the true-
 * and false-positive examples gitleaks keeps beside its rules (test/vectors/gitleaks/, source and
 * commit named there), and on the inputs of trufflehog's detector pattern tests
 * (test/vectors/trufflehog/). Prints tables and writes bench/results/leaks-vectors.json.
 *
 * Run alone: `npx tsx bench/leaks-vectors.ts`; `bench/run.ts` can call {@link runLeakVectors}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildEngineConfig } from '../src/leaks/scan/config.js';
import { compileEngine } from '../src/leaks/scan/detect.js';
import { loadGitleaksVectors, loadTrufflehogVectors, scoreTrufflehog, scoreVectors } from '../test/leaks/support/vectors.js';

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
}
