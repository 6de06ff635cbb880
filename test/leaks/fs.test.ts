import { rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { parseTarget, runScan } from '../../src/leaks/scan/scanner.js';
import { Fake } from './support/corpus.js';
import { tempDir, writeTree } from './support/fixtures.js';

const fake = new Fake(5);

describe('directory source', () => {
  let dir: string;
  let stateDir: string;
  const secret = () => `KEY=${fake.keyturn('kt_live')}\n`;

  beforeAll(() => {
    dir = tempDir();
    stateDir = tempDir();
    writeTree(dir, {
      'a.env': secret(),
      'bin/blob.bin': new Uint8Array([1, 2, 0, 3, ...Buffer.from(secret())]),
      'big/large.txt': `${'x'.repeat(2000)}\n${secret()}`,
      'build/out.env': secret(),
      'logs/app.log': secret(),
      'logs/keep.log': secret(),
      'node_modules/dep/index.js': secret(),
      '.gitignore': 'build/\n*.log\n!keep.log\n',
    });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('skips binary and oversized files and node_modules', async () => {
    const report = await runScan(parseTarget(dir), { config: buildEngineConfig({ maxFileBytes: 1000 }), threads: 0 });
    expect(report.findings.map((f) => f.file).sort()).toEqual(['a.env', 'build/out.env', 'logs/app.log', 'logs/keep.log']);
    expect(report.skipped).toBe(2);
  });

  it('respects .gitignore when asked', async () => {
    const report = await runScan(parseTarget(dir), { config: buildEngineConfig(), threads: 0, gitignore: true });
    expect(report.findings.map((f) => f.file).sort()).toEqual(['a.env', 'big/large.txt', 'logs/keep.log']);
  });

  it('scans a single file', async () => {
    const report = await runScan(parseTarget(join(dir, 'a.env')), { config: buildEngineConfig(), threads: 0 });
    expect(report.findings).toHaveLength(1);
  });

  it('rescans only changed files with a state directory', async () => {
    const opts = { config: buildEngineConfig(), threads: 0, stateDir };
    expect((await runScan(parseTarget(dir), opts)).findings).toHaveLength(5);
    const again = await runScan(parseTarget(dir), opts);
    expect(again.items).toBe(0);
    writeTree(dir, { 'a.env': secret() + secret() });
    utimesSync(join(dir, 'a.env'), new Date(), new Date(Date.now() + 5000));
    const third = await runScan(parseTarget(dir), opts);
    expect(third.items).toBe(1);
    expect(third.findings).toHaveLength(2);
  });
});
