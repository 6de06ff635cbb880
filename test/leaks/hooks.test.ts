import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOK_MARKER, hooksDirectory, preCommitHook } from '../../src/cli/hooks.js';
import { CLI } from '../support/spawn.js';
import { Fake } from './support/corpus.js';
import { gitIn, initRepo, tempDir, writeTree } from './support/fixtures.js';

// These tests run the built CLI (`dist/cli/main.js`, built by `npm test`), as a git hook would.

const fake = new Fake(1415);

const gitEnv = (home: string): NodeJS.ProcessEnv => ({
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: home,
});

/** `keyturn …` from the built bin, in `cwd`. */
function keyturn(cwd: string, ...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: gitEnv(cwd) });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** `git commit` with hooks, in `cwd`. */
function commit(cwd: string, message: string): { code: number; out: string } {
  const r = spawnSync('git', ['commit', '-q', '-m', message], { cwd, encoding: 'utf8', env: gitEnv(cwd) });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('keyturn hooks install', () => {
  let repo: string;

  beforeAll(() => {
    repo = tempDir('keyturn-hooks-');
    initRepo(repo);
    writeTree(repo, { 'README.md': '# app\n' });
    gitIn(repo, 'add', '-A');
    expect(commit(repo, 'init').code).toBe(0);
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('writes an executable .git/hooks/pre-commit that blocks a commit adding a secret and lets others through', () => {
    const installed = keyturn(repo, 'hooks', 'install');
    expect(installed.code).toBe(0);
    const hook = join(repo, '.git', 'hooks', 'pre-commit');
    expect(installed.out).toContain(hook);
    expect(statSync(hook).mode & 0o111).not.toBe(0);
    expect(readFileSync(hook, 'utf8')).toContain(HOOK_MARKER);

    const secret = fake.githubClassic();
    writeTree(repo, { 'ci/deploy.yaml': `steps:\n  - run: make\n    env:\n      GH_TOKEN: ${secret}\n` });
    gitIn(repo, 'add', '-A');
    const blocked = commit(repo, 'deploy');
    expect(blocked.code).not.toBe(0);
    expect(blocked.out).toContain('ci/deploy.yaml:4:');
    expect(blocked.out).toContain('commit blocked');
    expect(blocked.out).toContain('keyturn:allow');
    expect(blocked.out).not.toContain(secret);
    expect(gitIn(repo, 'rev-list', '--count', 'HEAD')).toBe('1');

    writeTree(repo, { 'ci/deploy.yaml': 'steps:\n  - run: make\n    env:\n      GH_TOKEN: ${{ secrets.GH_TOKEN }}\n' });
    gitIn(repo, 'add', '-A');
    expect(commit(repo, 'deploy, token from the CI secrets').code).toBe(0);
    expect(gitIn(repo, 'rev-list', '--count', 'HEAD')).toBe('2');
  });

  it('lets a commit through once the finding is allowed inline', () => {
    const sample = fake.githubClassic();
    writeTree(repo, { 'docs/example.md': `token: ${sample}\n` });
    gitIn(repo, 'add', '-A');
    expect(commit(repo, 'docs sample').code).not.toBe(0);
    writeTree(repo, { 'docs/example.md': `token: ${sample} # keyturn:allow (documentation sample)\n` });
    gitIn(repo, 'add', '-A');
    expect(commit(repo, 'docs sample, allowed').code).toBe(0);
  });

  it('lets a commit through once the finding is in the baseline the hook was installed with', () => {
    const fixture = fake.stripe();
    writeTree(repo, { 'test/fixture.env': `STRIPE_KEY=${fixture}\n` });
    gitIn(repo, 'add', '-A');
    expect(commit(repo, 'fixture').code).not.toBe(0);
    expect(keyturn(repo, 'scan', '--staged', '--write-baseline', '.keyturn-baseline.json').code).toBe(1);
    expect(keyturn(repo, 'hooks', 'install', '--baseline', '.keyturn-baseline.json').code).toBe(0);
    gitIn(repo, 'add', '-A');
    const allowed = commit(repo, 'fixture, baselined');
    expect(allowed.code).toBe(0);
  });

  it('leaves a foreign hook alone unless --force, then keeps it as a backup', () => {
    const hook = join(repo, '.git', 'hooks', 'pre-commit');
    writeFileSync(hook, '#!/bin/sh\nexec ./lint.sh\n', { mode: 0o755 });
    const refused = keyturn(repo, 'hooks', 'install');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('ERR_CONFLICT');
    expect(readFileSync(hook, 'utf8')).toBe('#!/bin/sh\nexec ./lint.sh\n');
    const forced = keyturn(repo, 'hooks', 'install', '--force');
    expect(forced.code).toBe(0);
    expect(readFileSync(`${hook}.keyturn-backup`, 'utf8')).toBe('#!/bin/sh\nexec ./lint.sh\n');
    expect(readFileSync(hook, 'utf8')).toContain(HOOK_MARKER);
  });

  it('installs under core.hooksPath when it is set', () => {
    gitIn(repo, 'config', 'core.hooksPath', '.githooks');
    try {
      mkdirSync(join(repo, 'sub'), { recursive: true });
      expect(hooksDirectory(join(repo, 'sub'))).toBe(join(repo, '.githooks'));
      expect(keyturn(repo, 'hooks', 'install').code).toBe(0);
      expect(existsSync(join(repo, '.githooks', 'pre-commit'))).toBe(true);
      const secret = fake.slackToken();
      writeTree(repo, { 'ops/slack.env': `SLACK_TOKEN=${secret}\n` });
      gitIn(repo, 'add', '-A');
      expect(commit(repo, 'slack').code).not.toBe(0);
      gitIn(repo, 'rm', '-q', '--cached', 'ops/slack.env');
    } finally {
      gitIn(repo, 'config', '--unset', 'core.hooksPath');
    }
  });

  it('quotes what it embeds in the hook script', () => {
    const text = preCommitHook({ args: ['--baseline', "it's.json"], node: '/opt/node 20/bin/node', bin: '/x/main.js' });
    expect(text).toContain(`'/opt/node 20/bin/node' '/x/main.js' 'scan' '--staged' '--baseline' 'it'\\''s.json'`);
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
  });

  it('refuses outside a git repository', () => {
    const dir = tempDir();
    try {
      const r = keyturn(dir, 'hooks', 'install');
      expect(r.code).toBe(1);
      expect(r.err).toContain('ERR_NOT_FOUND');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
