/**
 * A/B of the leak scanner's detection engine, in process: the rules and engine of a git ref (A,
 * default `HEAD~1`) against the working tree's (B), on the leak benchmark's generated tree (the
 * same seed, scale and filler as bench/leaks.ts), single thread, no I/O. Rounds alternate A and B
 * (ABBA…), each timed by the CPU time of this process, so a busy machine slows both alike; the
 * ratio of the medians and each round's ratio are printed, with both sides' precision and recall
 * on the tree's labels. Also the time of each rule's regex, for the rules that differ, on ~2 MiB of
 * the tree with every keyword planted (what a rule costs in a file that triggers it; fastest of 9).
 *
 * Run: `npx tsx bench/leaks-rules-ab.ts [ref] [rounds]`. Tracks the engine; not a whole-process
 * figure (bench/leaks.ts measures those).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateCorpus, score } from '../test/leaks/support/corpus.js';
import { root } from './support.js';

type Config = typeof import('../src/leaks/scan/config.js');
type Detect = typeof import('../src/leaks/scan/detect.js');

const ref = process.argv[2] ?? 'HEAD~1';
const rounds = Number(process.argv[3] ?? 11);

/** `src/` of `ref`, unpacked beside a link to this checkout's node_modules. */
function checkout(dir: string): string {
  execFileSync('sh', ['-c', `git archive ${JSON.stringify(ref)} src | tar -x -C ${JSON.stringify(dir)}`], { cwd: root });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'src');
}

async function load(src: string): Promise<{ config: Config; detect: Detect }> {
  const url = (p: string) => pathToFileURL(join(src, p)).href;
  return { config: (await import(url('leaks/scan/config.ts'))) as Config, detect: (await import(url('leaks/scan/detect.ts'))) as Detect };
}

const dir = mkdtempSync(join(tmpdir(), 'keyturn-rules-ab-'));
try {
  const sides = { A: await load(checkout(dir)), B: await load(join(root, 'src')) };
  const corpus = generateCorpus({ seed: 20240601, scale: 30, fillerBytes: 16 * 1024 * 1024 });
  const files = [...corpus.files.entries()];
  const mib = files.reduce((n, [, t]) => n + Buffer.byteLength(t), 0) / 1048576;
  const engines = { A: sides.A.detect.compileEngine(sides.A.config.buildEngineConfig()), B: sides.B.detect.compileEngine(sides.B.config.buildEngineConfig()) };

  const pass = (side: 'A' | 'B') => {
    const start = process.cpuUsage();
    const found: { file: string; kind: string; fingerprint: string }[] = [];
    for (const [path, text] of files) {
      for (const f of sides[side].detect.detect(engines[side], text, path)) found.push({ file: f.file, kind: f.kind, fingerprint: createHash('sha256').update(f.secret).digest('hex') });
    }
    const cpu = process.cpuUsage(start);
    return { seconds: (cpu.user + cpu.system) / 1e6, found };
  };
  const times: Record<'A' | 'B', number[]> = { A: [], B: [] };
  pass('A');
  pass('B');
  for (let i = 0; i < rounds; i++) {
    const order: readonly ('A' | 'B')[] = i % 2 ? ['B', 'A'] : ['A', 'B'];
    for (const side of order) times[side].push(pass(side).seconds);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  for (const side of ['A', 'B'] as const) {
    const s = Object.values(score(corpus.labels, pass(side).found));
    const [tp, fp, fn] = [s.reduce((n, x) => n + x.tp, 0), s.reduce((n, x) => n + x.fp, 0), s.reduce((n, x) => n + x.fn, 0)];
    console.log(`${side} (${side === 'A' ? ref : 'working tree'}): ${engines[side].rules.length} rules, ${(mib / median(times[side])).toFixed(1)} MiB/s of CPU time (median of ${rounds}), precision ${(tp / (tp + fp)).toFixed(3)}, recall ${(tp / (tp + fn)).toFixed(3)}`);
  }
  console.log(`B/A CPU time: ${(median(times.B) / median(times.A)).toFixed(3)} (rounds: ${times.B.map((b, i) => (b / (times.A[i] ?? NaN)).toFixed(3)).join(' ')})`);

  // Each changed rule's regex on a text that triggers it.
  const before = new Map(engines.A.rules.map((r) => [r.id, r.regex.source]));
  const changed = engines.B.rules.filter((r) => before.get(r.id) !== r.regex.source);
  let text = '';
  for (const [, t] of files) if (text.length < 2 * 1048576) text += t;
  text = `${[...new Set(changed.flatMap((r) => r.keywords))].join(' ')}\n${text}`;
  const rows = changed.map((r) => {
    const runs: number[] = [];
    for (let i = 0; i < 9; i++) {
      const t0 = process.hrtime.bigint();
      r.regex.lastIndex = 0;
      for (let m = r.regex.exec(text); m !== null; m = r.regex.exec(text)) if (m[0].length === 0) r.regex.lastIndex++;
      runs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const ms = Math.min(...runs);
    return { rule: r.id, ms: Number(ms.toFixed(2)), MiBs: Math.round(text.length / 1048576 / (ms / 1000)) };
  });
  console.log(`rules new or changed since ${ref}, each regex alone on ${(text.length / 1048576).toFixed(1)} MiB holding every keyword:`);
  console.table(rows.sort((a, b) => b.ms - a.ms));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
