import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanCommand } from '../../src/cli/scan.js';
import { secretDigest } from '../../src/core/secret.js';
import { Fake } from './support/corpus.js';
import { scanCli, tempDir, writeTree } from './support/fixtures.js';

const fake = new Fake(77);

const run = scanCli;

describe('keyturn scan', () => {
  let dir: string;
  let clean: string;
  const keyturn = fake.keyturn('kt_live');
  const github = fake.githubClassic();

  beforeAll(() => {
    dir = tempDir();
    clean = tempDir();
    writeTree(dir, { 'app/.env': `KEYTURN_KEY=${keyturn}\n`, 'ci/deploy.yaml': `steps:\n  - env:\n      GH_TOKEN: ${github}\n` });
    writeTree(clean, { 'README.md': '# nothing to see\npassword = "${PASSWORD}"\n' });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(clean, { recursive: true, force: true });
  });

  it('is a commander command named scan', () => {
    const cmd = scanCommand();
    expect(cmd.name()).toBe('scan');
    expect(cmd.options.map((o) => o.long)).toEqual(
      expect.arrayContaining(['--history', '--format', '--baseline', '--no-redact', '--rules', '--gitignore', '--state-dir']),
    );
  });

  it('exits 0 with no findings and 1 with findings; text is redacted', async () => {
    expect((await run([clean])).code).toBe(0);
    const { code, out } = await run([dir]);
    expect(code).toBe(1);
    expect(out).toContain('app/.env:1:13  keyturn  keyturn-secret');
    expect(out).toContain('2 secrets found');
    expect(out).not.toContain(keyturn);
    expect(out).not.toContain(github);
  });

  it('prints JSON findings with redacted matches unless --no-redact', async () => {
    const { code, out } = await run([dir, '--format', 'json']);
    expect(code).toBe(1);
    const findings = JSON.parse(out) as Record<string, unknown>[];
    expect(findings).toEqual([
      { file: 'app/.env', line: 1, column: 13, kind: 'keyturn', rule: 'keyturn-secret', fingerprint: secretDigest(keyturn), match: `kt_live_${keyturn.slice(8, 12)}…` },
      { file: 'ci/deploy.yaml', line: 3, column: 17, kind: 'github', rule: 'github-classic-token', fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/), match: `${github.slice(0, 4)}********` },
    ]);
    // Not a plain hash: the third-party secret's fingerprint is an HMAC under the scan's key.
    expect(findings[1]!.fingerprint).not.toBe(secretDigest(github));
    const revealed = JSON.parse((await run([dir, '--format', 'json', '--no-redact'])).out) as { match: string }[];
    expect(revealed.map((f) => f.match)).toEqual([keyturn, github]);
  });

  it('prints SARIF 2.1.0', async () => {
    const { code, out } = await run([dir, '--format', 'sarif']);
    expect(code).toBe(1);
    const sarif = JSON.parse(out) as {
      version: string;
      $schema: string;
      runs: { tool: { driver: { name: string; rules: { id: string }[] } }; results: Record<string, any>[] }[];
    };
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.$schema).toMatch(/sarif-2\.1\.0/);
    const [runEntry] = sarif.runs;
    expect(runEntry?.tool.driver.name).toBe('keyturn');
    expect(runEntry?.tool.driver.rules.map((r) => r.id)).toEqual(['github-classic-token', 'keyturn-secret']);
    for (const result of runEntry?.results ?? []) {
      expect(result.ruleId).toBe(runEntry?.tool.driver.rules[result.ruleIndex as number]?.id);
      expect(['error', 'warning', 'note', 'none']).toContain(result.level);
      expect(typeof result.message.text).toBe('string');
      expect(result.locations[0].physicalLocation.artifactLocation.uri).toMatch(/^(app|ci)\//);
      expect(result.locations[0].physicalLocation.region.startLine).toBeGreaterThan(0);
      expect(result.partialFingerprints['secretFingerprint/v2']).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(out).not.toContain(keyturn);
  });

  it('reads standard input with -', async () => {
    const { code, out } = await run(['-', '--format', 'json'], `line one\nexport TOKEN=${github}\n`);
    expect(code).toBe(1);
    expect(JSON.parse(out)).toMatchObject([{ file: '<stdin>', line: 2, column: 14, kind: 'github' }]);
  });

  it('writes and honours a baseline that holds fingerprints only', async () => {
    const baseline = join(dir, '..', `baseline-${process.pid}.json`);
    try {
      expect((await run([dir, '--write-baseline', baseline])).code).toBe(1);
      const text = readFileSync(baseline, 'utf8');
      expect(text).not.toContain(keyturn);
      expect(text).toContain(secretDigest(keyturn));
      expect((await run([dir, '--baseline', baseline])).code).toBe(0);
    } finally {
      rmSync(baseline, { force: true });
    }
  });

  it('exits 2 with one line on stderr for errors', async () => {
    const missing = await run([join(dir, 'does-not-exist')]);
    expect(missing.code).toBe(2);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    expect(missing.err).toContain('ERR_NOT_FOUND');
    const rules = join(clean, 'bad-rules.json');
    writeFileSync(rules, JSON.stringify({ rules: [{ id: 'x', kind: 'x', pattern: '(' }] }));
    const badRules = await run([clean, '--rules', rules]);
    expect(badRules.code).toBe(2);
    expect(badRules.err).toMatch(/^keyturn scan: ERR_CONFIG: invalid regular expression in rule x/);
    expect((await run([clean, '--format', 'xml'])).code).toBe(2);
    expect((await run([clean, '--history'])).code).toBe(2);
  });
});
