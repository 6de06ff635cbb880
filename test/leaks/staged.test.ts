import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScanCli } from '../../src/cli/scan.js';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { fingerprintOf } from '../../src/leaks/scan/detect.js';
import { parseTarget, runScan } from '../../src/leaks/scan/scanner.js';
import { parseStagedDiff, stagedContents, unquoteGitPath } from '../../src/leaks/scan/sources/staged.js';
import { Fake } from './support/corpus.js';
import { commitFiles, gitIn, initRepo, tempDir, writeTree } from './support/fixtures.js';

const config = buildEngineConfig();
const fake = new Fake(1414);

describe('keyturn scan --staged', () => {
  let repo: string;
  const s = {
    removed: fake.githubClassic(),
    removedFile: fake.keyturn('kt_live'),
    unchanged: fake.stripe(),
    renamed: fake.google(),
    added: fake.slackToken(),
    newFile: fake.awsKeyId(),
    quoted: fake.githubClassic(),
    unstaged: fake.google(),
    untracked: fake.keyturn('kt_test'),
  };
  const body = fake.pemBody(600);
  const privateKey = `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----`;

  beforeAll(() => {
    repo = tempDir('keyturn-staged-');
    initRepo(repo);
    commitFiles(
      repo,
      {
        'config/app.env': `A=1\nB=2\nGH_TOKEN=${s.removed}\nC=3\n`,
        'src/billing.ts': `const a = 1;\nexport const STRIPE = "${s.unchanged}";\n`,
        'old/maps.js': `const key = "${s.renamed}";\n`,
        'drop.env': `KEYTURN_KEY=${s.removedFile}\n`,
      },
      'init',
      1_700_000_000,
    );
    // Staged: a secret removed and one added lower down (new numbering differs from the old),
    // a new file, a deleted file, a renamed file with an unrelated change, an unchanged secret
    // in a modified file, a path git quotes, and a private key spanning lines.
    writeTree(repo, {
      'config/app.env': `# header\n# more\nA=1\nB=2\nC=3\nSLACK_TOKEN=${s.added}\n`,
      'new/aws.ini': `[default]\naws_access_key_id = ${s.newFile}\n`,
      'src/billing.ts': `const a = 1;\nexport const STRIPE = "${s.unchanged}";\nexport const b = 2;\n`,
      'dir/café key.env': `\nGITHUB=${s.quoted}\n`,
      'keys/deploy.pem': `${privateKey}\n`,
    });
    gitIn(repo, 'rm', '-q', 'drop.env');
    gitIn(repo, 'mv', 'old/maps.js', 'new/maps.js');
    writeFileSync(join(repo, 'new/maps.js'), `// moved\nconst key = "${s.renamed}";\n`);
    gitIn(repo, 'add', '-A');
    // Not staged: an edit on top of a staged file (shifting its lines) and an untracked file.
    writeFileSync(join(repo, 'config/app.env'), `X=1\nY=2\nMAPS=${s.unstaged}\n# header\n# more\nA=1\nB=2\nC=3\nSLACK_TOKEN=${s.added}\n`);
    writeTree(repo, { 'untracked.env': `KEYTURN_KEY=${s.untracked}\n` });
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('reports only what the next commit adds, at its line in the new version', async () => {
    const report = await runScan(parseTarget(repo), { config, staged: true, threads: 0 });
    const found = report.findings.map((f) => ({ file: f.file, line: f.line, kind: f.kind, fingerprint: f.fingerprint }));
    expect(found).toEqual([
      { file: 'config/app.env', line: 6, kind: 'slack', fingerprint: fingerprintOf(s.added, config.fingerprintKey) },
      { file: 'dir/café key.env', line: 2, kind: 'github', fingerprint: fingerprintOf(s.quoted, config.fingerprintKey) },
      { file: 'keys/deploy.pem', line: 1, kind: 'private-key', fingerprint: expect.any(String) },
      { file: 'new/aws.ini', line: 2, kind: 'aws', fingerprint: fingerprintOf(s.newFile, config.fingerprintKey) },
    ]);
    for (const gone of [s.removed, s.removedFile, s.unchanged, s.renamed, s.unstaged, s.untracked]) {
      expect(report.findings.some((f) => f.fingerprint === fingerprintOf(gone, config.fingerprintKey))).toBe(false);
    }
  });

  it('works from worker threads and from a subdirectory of the work tree', async () => {
    const report = await runScan(parseTarget(join(repo, 'config')), { config, staged: true, threads: 2, inlineBytes: 0 });
    expect(report.findings.map((f) => `${f.file}:${f.line}`).sort()).toEqual(['config/app.env:6', 'dir/café key.env:2', 'keys/deploy.pem:1', 'new/aws.ini:2']);
  });

  it('reports nothing once the secrets are out of the index; scans a first commit whole', async () => {
    const fresh = tempDir('keyturn-staged-first-');
    try {
      initRepo(fresh);
      const secret = fake.githubClassic();
      writeTree(fresh, { 'a.txt': 'hello\n', 'b/.env': `\n\nGH=${secret}\n` });
      gitIn(fresh, 'add', '-A');
      const first = await runScan(parseTarget(fresh), { config, staged: true, threads: 0 });
      expect(first.findings.map((f) => `${f.file}:${f.line}`)).toEqual(['b/.env:3']);
      gitIn(fresh, 'rm', '-q', '--cached', 'b/.env');
      const none = await runScan(parseTarget(fresh), { config, staged: true, threads: 0 });
      expect(none.findings).toEqual([]);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('blocks with exit 1 and says where and how to allow a false positive; exit 2 outside a repository', async () => {
    let out = '';
    let err = '';
    const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), stdin: Readable.from(['']), env: {}, setExitCode: () => undefined };
    expect(await runScanCli([repo, '--staged', '--threads', '0'], io)).toBe(1);
    expect(out).toContain('config/app.env:6:');
    expect(out).not.toContain(s.added);
    expect(err).toContain('commit blocked: 4 secrets');
    expect(err).toContain('keyturn:allow');
    expect(err).toContain('--baseline');
    const outside = tempDir();
    try {
      err = '';
      expect(await runScanCli([outside, '--staged', '--threads', '0'], io)).toBe(2);
      expect(err).toContain('ERR_NOT_FOUND');
      err = '';
      expect(await runScanCli([repo, '--staged', '--history'], io)).toBe(2);
      expect(err).toContain('ERR_VALIDATION');
      err = '';
      expect(await runScanCli(['--format', 'json'], io)).toBe(2);
      expect(err).toContain("missing required argument 'source'");
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('rebuilds each staged file from one full-context diff byte for byte as the index holds it, and finds secrets at their lines', async () => {
    const fresh = tempDir('keyturn-staged-bytes-');
    try {
      initRepo(fresh);
      // git may print blank context lines as empty lines: the scan must read them as such.
      gitIn(fresh, 'config', 'diff.suppressBlankEmpty', 'true');
      const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]); // "café\n" in Latin-1: not UTF-8
      commitFiles(fresh, { 'crlf.env': 'A=1\r\n\r\nB=2\r\n', 'tail.env': 'X=1\n\nY=2', 'lines.txt': '+++ b\n--- a\n\ndiff --git x y\n@@ -1 +1 @@\n' }, 'init', 1_700_000_000);
      const secrets = [fake.githubClassic(), fake.slackToken(), fake.stripe(), fake.awsKeyId()];
      writeFileSync(join(fresh, 'crlf.env'), `A=1\r\n\r\nGH=${secrets[0]}\r\nB=2\r\n`);
      writeFileSync(join(fresh, 'tail.env'), `X=1\n\nY=2\nSLACK=${secrets[1]}`);
      writeFileSync(join(fresh, 'lines.txt'), `+++ b\n--- a\n\ndiff --git x y\n@@ -1 +1 @@\nSTRIPE=${secrets[2]}\n\\ not a note\n`);
      writeFileSync(join(fresh, 'bytes.ini'), Buffer.concat([latin1, Buffer.from(`\naws_access_key_id = ${secrets[3]}\n`)]));
      gitIn(fresh, 'add', '-A');
      const files = await stagedContents(fresh);
      expect(files.map((f) => f.path).sort()).toEqual(['bytes.ini', 'crlf.env', 'lines.txt', 'tail.env']);
      for (const f of files) expect(f.content.equals(execFileSync('git', ['-C', fresh, 'cat-file', 'blob', f.sha]))).toBe(true);
      expect(Object.fromEntries(files.map((f) => [f.path, f.added]))).toEqual({ 'bytes.ini': [[1, 3]], 'crlf.env': [[3, 3]], 'lines.txt': [[6, 7]], 'tail.env': [[3, 4]] });
      const report = await runScan(parseTarget(fresh), { config, staged: true, threads: 0 });
      expect(report.findings.map((f) => `${f.file}:${f.line}:${f.fingerprint}`).sort()).toEqual(
        [`bytes.ini:3:${fingerprintOf(secrets[3]!, config.fingerprintKey)}`, `crlf.env:3:${fingerprintOf(secrets[0]!, config.fingerprintKey)}`, `lines.txt:6:${fingerprintOf(secrets[2]!, config.fingerprintKey)}`, `tail.env:4:${fingerprintOf(secrets[1]!, config.fingerprintKey)}`].sort(),
      );
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('parses the zero-context diff by hunk counts, whatever the added lines hold', () => {
    const diff = [
      'diff --git a.txt a.txt',
      'index 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644',
      '--- a.txt',
      '+++ a.txt\t',
      '@@ -3 +3,2 @@ context',
      '-old',
      '+diff --git x y',
      '++++ not/a/header',
      '@@ -10,2 +11,0 @@',
      '-gone',
      '-gone too',
      '@@ -20,0 +20 @@',
      '+@@ -1 +1 @@',
      '\\ No newline at end of file',
      'diff --git gone.txt gone.txt',
      'deleted file mode 100644',
      'index 3333333333333333333333333333333333333333..0000000000000000000000000000000000000000',
      '--- gone.txt',
      '+++ /dev/null',
      '@@ -1 +0,0 @@',
      '-bye',
      '',
    ].join('\n');
    expect(parseStagedDiff(diff)).toEqual([{ path: 'a.txt', sha: '2222222222222222222222222222222222222222', added: [[3, 4], [20, 20]] }]);
    expect(unquoteGitPath('"dir/caf\\303\\251 \\"x\\"\\tk.env"')).toBe('dir/café "x"\tk.env');
    expect(unquoteGitPath('plain/path.env')).toBe('plain/path.env');
  });
});
