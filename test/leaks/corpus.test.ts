import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { parseTarget, runScan } from '../../src/leaks/scan/scanner.js';
import { generateCorpus, KINDS, score, type Corpus } from './support/corpus.js';
import { tempDir, writeTree } from './support/fixtures.js';

/** Findings fingerprinted the way the corpus labels are (plain SHA-256), for scoring only. */
function plain(findings: readonly { file: string; kind: string; secret: string }[]) {
  return findings.map((f) => ({ file: f.file, kind: f.kind, fingerprint: createHash('sha256').update(f.secret).digest('hex') }));
}

describe('labelled corpus', () => {
  let root: string;
  let corpus: Corpus;
  beforeAll(() => {
    corpus = generateCorpus({ seed: 7, scale: 6, fillerBytes: 600_000 });
    root = tempDir();
    writeTree(root, corpus.files);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('plants every kind and decoys of every kind', () => {
    for (const kind of KINDS) {
      expect(corpus.labels.filter((l) => l.kind === kind).length).toBeGreaterThan(0);
      expect(corpus.decoys[kind] ?? 0).toBeGreaterThan(0);
    }
  });

  it.each([
    ['on the calling thread', { threads: 0 }],
    ['on worker threads', { threads: 2, inlineBytes: 0 }],
  ])('reaches precision and recall ≥ 0.95 per kind, 1.0 for keyturn, %s', async (_name, pool) => {
    const report = await runScan(parseTarget(root), { config: buildEngineConfig(), ...pool });
    const scores = score(corpus.labels, plain(report.findings));
    for (const kind of [...KINDS, 'overall']) {
      const s = scores[kind];
      expect(s, kind).toBeDefined();
      expect(s?.precision, `${kind} precision`).toBeGreaterThanOrEqual(0.95);
      expect(s?.recall, `${kind} recall`).toBeGreaterThanOrEqual(0.95);
    }
    expect(scores.keyturn?.precision).toBe(1);
    expect(scores.keyturn?.recall).toBe(1);
    expect(Object.keys(scores).every((k) => k === 'overall' || (KINDS as readonly string[]).includes(k))).toBe(true);
  });

  it('finds the same secrets whatever the seed (precision and recall ≥ 0.95)', async () => {
    for (const seed of [1, 2]) {
      const other = generateCorpus({ seed, scale: 3, fillerBytes: 100_000 });
      const dir = tempDir();
      try {
        writeTree(dir, other.files);
        const report = await runScan(parseTarget(dir), { config: buildEngineConfig(), threads: 0 });
        const overall = score(other.labels, plain(report.findings)).overall;
        expect(overall?.precision).toBeGreaterThanOrEqual(0.95);
        expect(overall?.recall).toBeGreaterThanOrEqual(0.95);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
