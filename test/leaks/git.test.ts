import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { parseTarget, runScan } from '../../src/leaks/scan/scanner.js';
import { fingerprintOf } from '../../src/leaks/scan/detect.js';
import { Fake } from './support/corpus.js';
import { commitFiles, gitIn, initRepo, tempDir } from './support/fixtures.js';

const config = buildEngineConfig();
const fake = new Fake(2024);

describe('git history', () => {
  let repo: string;
  let stateDir: string;
  const s = {
    deleted: fake.keyturn('kt_live'),
    replaced: fake.githubClassic(),
    replacement: fake.githubClassic(),
    branchOnly: fake.stripe(),
    stillThere: fake.awsKeyId(),
    copied: fake.google(),
  };
  const commits: Record<string, string> = {};
  let t = 1_700_000_000;

  beforeAll(() => {
    repo = tempDir('keyturn-git-');
    stateDir = tempDir('keyturn-state-');
    initRepo(repo);
    commits.first = commitFiles(repo, { 'README.md': '# app\n', 'src/app.ts': 'export const x = 1;\n' }, 'init', t++);
    commits.deleted = commitFiles(repo, { '.env': `KEYTURN_KEY=${s.deleted}\n` }, 'add env', t++);
    gitIn(repo, 'rm', '-q', '.env');
    commitFiles(repo, {}, 'remove env', t++);
    commits.replaced = commitFiles(repo, { 'config/gh.yaml': `token: ${s.replaced}\n` }, 'gh token', t++);
    commitFiles(repo, { 'config/gh.yaml': `token: ${s.replacement}\n` }, 'rotate gh token', t++);
    commits.stillThere = commitFiles(repo, { 'deploy/aws.ini': `aws_access_key_id = ${s.stillThere}\n` }, 'aws', t++);
    commits.copied = commitFiles(repo, { 'a/maps.js': `const key = "${s.copied}";\n` }, 'maps', t++);
    commitFiles(repo, { 'b/maps-copy.js': `// copy\nconst key = "${s.copied}";\n` }, 'copy maps', t++);
    gitIn(repo, 'checkout', '-q', '-b', 'feature');
    commits.branchOnly = commitFiles(repo, { 'billing.env': `STRIPE_KEY=${s.branchOnly}\n` }, 'billing on a branch', t++);
    gitIn(repo, 'checkout', '-q', 'main');
  });
  afterAll(() => {
    rmSync(repo, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  const byFingerprint = (findings: readonly { fingerprint: string }[], secret: string) =>
    findings.filter((f) => f.fingerprint === fingerprintOf(secret, config.fingerprintKey));

  it('reports every secret of every ref once, at the commit that introduced it, with whether it is at HEAD', async () => {
    const report = await runScan(parseTarget(repo), { config, history: true, threads: 0 });
    const expectOne = (secret: string, commit: string | undefined, file: string, atHead: boolean) => {
      const found = byFingerprint(report.findings, secret);
      expect(found, file).toHaveLength(1);
      expect(found[0]).toMatchObject({ commit, file, atHead });
    };
    expectOne(s.deleted, commits.deleted, '.env', false);
    expectOne(s.replaced, commits.replaced, 'config/gh.yaml', false);
    expectOne(s.stillThere, commits.stillThere, 'deploy/aws.ini', true);
    expectOne(s.copied, commits.copied, 'a/maps.js', true);
    expectOne(s.branchOnly, commits.branchOnly, 'billing.env', false);
    expect(byFingerprint(report.findings, s.replacement)).toHaveLength(1);
    expect(report.findings.find((f) => f.kind === 'keyturn')).toMatchObject({ line: 1, column: 13 });
  });

  it('sees only HEAD without --history, and works from worker threads', async () => {
    const head = await runScan(parseTarget(repo), { config, threads: 0 });
    expect(head.findings.map((f) => f.fingerprint).sort()).toEqual(
      [s.replacement, s.stillThere, s.copied, s.copied].map((x) => fingerprintOf(x, config.fingerprintKey)).sort(),
    );
    const pooled = await runScan(parseTarget(repo), { config, history: true, threads: 2, inlineBytes: 0 });
    expect(pooled.findings).toHaveLength(6);
  });

  it('clones a remote URL with the real git and scans its history', async () => {
    const report = await runScan(parseTarget(`file://${repo}`), { config, history: true, threads: 0 });
    expect(report.findings).toHaveLength(6);
    expect(byFingerprint(report.findings, s.branchOnly)[0]).toMatchObject({ commit: commits.branchOnly, atHead: false });
  });

  it('scans incrementally: only what is new since the last scan', async () => {
    const first = await runScan(parseTarget(repo), { config, history: true, threads: 0, stateDir });
    expect(first.findings).toHaveLength(6);
    const again = await runScan(parseTarget(repo), { config, history: true, threads: 0, stateDir });
    expect(again.findings).toEqual([]);
    expect(again.items).toBe(0);
    const fresh = fake.slackToken();
    const c = commitFiles(repo, { 'ops/slack.env': `SLACK_TOKEN=${fresh}\n`, 'README.md': '# app\nmore\n' }, 'slack', t++);
    const third = await runScan(parseTarget(repo), { config, history: true, threads: 0, stateDir });
    expect(third.findings).toHaveLength(1);
    expect(third.findings[0]).toMatchObject({ kind: 'slack', commit: c, atHead: true, file: 'ops/slack.env' });
    expect(third.items).toBe(2);
  });

  it('locates a secret still at HEAD at its HEAD line, not the line it was introduced at', async () => {
    const dir = tempDir('keyturn-git-moved-');
    try {
      initRepo(dir);
      const kept = fake.githubClassic();
      const moved = fake.stripe();
      const first = commitFiles(dir, { 'app/.env': `GH_TOKEN=${kept}\n`, 'old/billing.env': `STRIPE_KEY=${moved}\n` }, 'secrets', 1_700_000_000);
      commitFiles(dir, { 'app/.env': `# app\n# settings\nA=1\nGH_TOKEN=${kept}\n` }, 'more settings', 1_700_000_001);
      gitIn(dir, 'rm', '-q', 'old/billing.env');
      commitFiles(dir, { 'billing/live.env': `# billing\n\nSTRIPE_KEY=${moved}\n` }, 'move billing', 1_700_000_002);
      const report = await runScan(parseTarget(dir), { config, history: true, threads: 0 });
      expect(byFingerprint(report.findings, kept)).toEqual([expect.objectContaining({ file: 'app/.env', line: 4, column: 10, commit: first, atHead: true })]);
      expect(byFingerprint(report.findings, moved)).toEqual([expect.objectContaining({ file: 'billing/live.env', line: 3, column: 12, commit: first, atHead: true })]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses --history on a directory that is not a git repository', async () => {
    const dir = tempDir();
    try {
      await expect(runScan(parseTarget(dir), { config, history: true, threads: 0 })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
