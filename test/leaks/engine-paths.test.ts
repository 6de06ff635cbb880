import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { compileEngine, detect, triggeredRules } from '../../src/leaks/scan/detect.js';
import { parseTarget, runScan } from '../../src/leaks/scan/scanner.js';
import type { EngineConfig, RuleSpec } from '../../src/leaks/scan/types.js';
import { shannonEntropy } from '../../src/leaks/scan/validators.js';
import { generateCorpus, type Corpus } from './support/corpus.js';
import { tempDir, writeTree } from './support/fixtures.js';

function rule(id: string, keywords: string[]): RuleSpec {
  return { id, kind: 'generic', description: id, keywords, pattern: 'never(?!)' };
}

describe('keyword prefilter', () => {
  const config: EngineConfig = { ...buildEngineConfig(), rules: [rule('short', ['abc']), rule('long', ['abcdef']), rule('inner', ['def']), rule('other', ['zzz'])] };
  const engine = compileEngine(config);
  const ids = (text: string): string[] => triggeredRules(engine, text).map((i) => engine.rules[i]?.id ?? '?');

  it('keeps track of untriggered rules past thirty rules', () => {
    const many = compileEngine({ ...config, rules: Array.from({ length: 40 }, (_, i) => rule(`r${i}`, [`kw${i}x`])) });
    const hits = (text: string) => triggeredRules(many, text).map((i) => many.rules[i]?.id);
    expect(hits('kw3x KW39X kw31x kw3x')).toEqual(['r3', 'r31', 'r39']);
    expect(hits('kw0x')).toEqual(['r0']);
    expect(hits('kw40x')).toEqual([]);
  });

  it('triggers a rule wherever one of its keywords occurs, case-insensitively, overlapping or as a prefix of another', () => {
    expect(ids('xx ABCDEF yy')).toEqual(['short', 'long', 'inner']);
    expect(ids('abc')).toEqual(['short']);
    expect(ids('abcde zZz')).toEqual(['short', 'other']);
    expect(ids('nothing here')).toEqual([]);
  });

  it('keeps triggering rules once frequent keywords have dropped out of the search', () => {
    const text = `${'abc '.repeat(1000)}def`;
    expect(ids(text)).toEqual(['short', 'inner']);
  });
});

describe('engine details', () => {
  it('computes Shannon entropy as the definition does', () => {
    const reference = (text: string): number => {
      const counts = new Map<string, number>();
      for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
      let bits = 0;
      for (const n of counts.values()) bits -= (n / text.length) * Math.log2(n / text.length);
      return bits;
    };
    for (const text of ['', 'a', 'aaaa', 'abab', 'Zx9!Zx9!q', 'x'.repeat(300) + 'y'.repeat(17)]) expect(shannonEntropy(text)).toBeCloseTo(reference(text), 12);
    expect(shannonEntropy('abcd')).toBe(2);
    expect(shannonEntropy('aabb')).toBe(shannonEntropy('abab'));
  });

  it('gives each finding its own line and column', () => {
    const engine = compileEngine(buildEngineConfig());
    const [a, b, c] = ['AKIAQWERTY234567ZXCV', 'AKIARTYUIOP23456ASDF', 'AKIAMNBVCXZ765432LKJ'];
    const text = `one\n\n  x = ${a}\nthree\n${b} ${c}\n`;
    expect(detect(engine, text, 'a.txt').map((f) => [f.line, f.column])).toEqual([
      [3, 7],
      [5, 1],
      [5, 22],
    ]);
  });
});

describe('calling thread and workers together', () => {
  let root: string;
  let corpus: Corpus;
  beforeAll(() => {
    corpus = generateCorpus({ seed: 11, scale: 3, fillerBytes: 400_000 });
    root = tempDir();
    writeTree(root, corpus.files);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds exactly what a single-threaded scan finds when the calling thread scans alongside a worker', async () => {
    const config = buildEngineConfig();
    const alone = await runScan(parseTarget(root), { config, threads: 0 });
    const mixed = await runScan(parseTarget(root), { config, threads: 1, inlineBytes: 1 });
    expect(mixed.findings).toEqual(alone.findings);
    expect(mixed.items).toBe(alone.items);
    expect(mixed.bytes).toBe(alone.bytes);
  });
});
