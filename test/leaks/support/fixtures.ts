import { Readable } from 'node:stream';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';

/** A fresh temporary directory. */
export function tempDir(name = 'keyturn-leaks-'): string {
  return mkdtempSync(join(tmpdir(), name));
}

/** Writes `files` (relative path → content) under `root`. */
export function writeTree(root: string, files: ReadonlyMap<string, string | Uint8Array> | Record<string, string | Uint8Array>): void {
  const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
  for (const [path, content] of entries) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/** Runs the real git in `cwd` with a fixed identity and clock. */
export function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.invalid',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.invalid',
      GIT_CONFIG_NOSYSTEM: '1',
      HOME: cwd,
    },
  }).trim();
}

/** `git init` with a `main` branch. */
export function initRepo(dir: string): void {
  gitIn(dir, 'init', '-q', '-b', 'main');
  gitIn(dir, 'config', 'commit.gpgsign', 'false');
}

/** Writes files then commits them all; returns the commit id. */
export function commitFiles(dir: string, files: Record<string, string>, message: string, time: number): string {
  writeTree(dir, files);
  gitIn(dir, 'add', '-A');
  const date = `${time} +0000`;
  execFileSync('git', ['commit', '-q', '-m', message, '--date', date], {
    cwd: dir,
    env: { ...process.env, GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 't@example.invalid', GIT_COMMITTER_DATE: date, HOME: dir },
  });
  return gitIn(dir, 'rev-parse', 'HEAD');
}

/** Runs `keyturn scan` in this process (single-threaded), capturing its output and exit code. */
export async function scanCli(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const { runScanCli } = await import('../../../src/cli/scan.js');
  let out = '';
  let err = '';
  const code = await runScanCli([...args, '--threads', '0'], {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    stdin: Readable.from([stdin]),
    env: {},
    setExitCode: () => undefined,
  });
  return { code, out, err };
}
