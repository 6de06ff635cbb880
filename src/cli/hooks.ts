import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { KeyturnError } from '../core/errors.js';

/** Where `keyturn hooks` writes (the same shape as the program's `Io`). */
export interface HooksIo {
  readonly out: (text: string) => void;
}

/** The line that marks a hook file as keyturn's: such a file is replaced without `--force`. */
export const HOOK_MARKER = '# keyturn pre-commit hook';

/** Options of {@link preCommitHook}. */
export interface HookOptions {
  /** Extra `keyturn scan` arguments, e.g. `['--baseline', '.keyturn-baseline.json']`. */
  readonly args?: readonly string[];
  /** The Node executable and CLI entry that installed the hook, tried first. */
  readonly node?: string;
  readonly bin?: string;
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The text of a plain `pre-commit` hook that runs `keyturn scan --staged`: with the keyturn that
 * installed it if it is still there, else the repository's `node_modules/.bin/keyturn`, else
 * `keyturn` on the PATH. Exit 1 (findings) blocks the commit.
 */
export function preCommitHook(options: HookOptions = {}): string {
  const scan = ['scan', '--staged', ...(options.args ?? [])].map(shellQuote).join(' ');
  const lines = [
    '#!/bin/sh',
    HOOK_MARKER,
    '# Installed by `keyturn hooks install`: blocks a commit that adds a secret.',
    '# Skip it once with `git commit --no-verify`.',
  ];
  if (options.node && options.bin) {
    lines.push(`if [ -f ${shellQuote(options.bin)} ]; then exec ${shellQuote(options.node)} ${shellQuote(options.bin)} ${scan}; fi`);
  }
  lines.push(
    `if [ -x node_modules/.bin/keyturn ]; then exec node_modules/.bin/keyturn ${scan}; fi`,
    `if command -v keyturn >/dev/null 2>&1; then exec keyturn ${scan}; fi`,
    'echo "keyturn pre-commit hook: keyturn not found (npm install --save-dev keyturn)" >&2',
    'exit 2',
  );
  return `${lines.join('\n')}\n`;
}

/** The hooks directory git uses for the repository at `dir`: `core.hooksPath` if set, else `.git/hooks`. */
export function hooksDirectory(dir: string): string {
  let out: string;
  try {
    out = execFileSync('git', ['-C', dir, 'rev-parse', '--git-path', 'hooks'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    throw new KeyturnError('ERR_NOT_FOUND', `not a git repository: ${dir}`);
  }
  return resolve(dir, out.trim());
}

/** What {@link installPreCommitHook} did. */
export interface InstallResult {
  readonly path: string;
  /** Where a foreign hook replaced with `force` was kept. */
  readonly backup?: string;
}

/**
 * Writes the pre-commit hook of the repository at `dir` (respecting `core.hooksPath`). A hook
 * keyturn did not write is left alone (`ERR_CONFLICT`) unless `force`, which keeps it as
 * `pre-commit.keyturn-backup`.
 */
export function installPreCommitHook(dir: string, options: HookOptions & { readonly force?: boolean } = {}): InstallResult {
  const hooks = hooksDirectory(dir);
  const path = resolve(hooks, 'pre-commit');
  let backup: string | undefined;
  if (existsSync(path) && !readFileSync(path, 'utf8').includes(HOOK_MARKER)) {
    if (!options.force) {
      throw new KeyturnError(
        'ERR_CONFLICT',
        `${path} exists and is not keyturn's: add \`keyturn scan --staged\` to it, or run \`keyturn hooks install --force\` to replace it (it is kept as pre-commit.keyturn-backup)`,
      );
    }
    backup = `${path}.keyturn-backup`;
    renameSync(path, backup);
  }
  mkdirSync(hooks, { recursive: true });
  writeFileSync(path, preCommitHook(options), { mode: 0o755 });
  chmodSync(path, 0o755);
  return { path, ...(backup === undefined ? {} : { backup }) };
}

/**
 * The CLI entry of `keyturn scan` beside this module, when it runs compiled
 * (`dist/cli/scan-main.js`, the scan program bundled into one module).
 */
function installedBin(): string | undefined {
  const bin = fileURLToPath(new URL('./scan-main.js', import.meta.url));
  return existsSync(bin) ? bin : undefined;
}

/**
 * `keyturn hooks install [--force]`: a plain git pre-commit hook running `keyturn scan --staged`.
 *
 * @example
 * ```ts
 * program.addCommand(hooksCommand(io));
 * ```
 */
export function hooksCommand(io: HooksIo): Command {
  const hooks = new Command('hooks').description('git hooks that stop secrets before they are committed');
  hooks
    .command('install')
    .description('write .git/hooks/pre-commit (or under core.hooksPath) running `keyturn scan --staged`')
    .option('--force', "replace a pre-commit hook keyturn did not write (kept as pre-commit.keyturn-backup)")
    .option('--baseline <file>', 'the hook ignores findings in this baseline file (path from the repository root)')
    .option('--rules <file>', 'the hook uses this rules file (path from the repository root)')
    .option('--dir <dir>', 'the repository (default: the current directory)')
    .action((opts: { force?: boolean; baseline?: string; rules?: string; dir?: string }) => {
      const bin = installedBin();
      const result = installPreCommitHook(opts.dir ?? '.', {
        ...(opts.force ? { force: true } : {}),
        args: [...(opts.baseline ? ['--baseline', opts.baseline] : []), ...(opts.rules ? ['--rules', opts.rules] : [])],
        ...(bin ? { node: process.execPath, bin } : {}),
      });
      if (result.backup) io.out(`kept the previous hook as ${result.backup}`);
      io.out(`installed ${result.path}: each commit runs \`keyturn scan --staged\` first`);
    });
  return hooks;
}
