import { existsSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { KeyturnError } from '../../core/errors.js';
import { applyBaseline, type Baseline } from './baseline.js';
import type { Progress, ScanContext, SourceResult } from './collect.js';
import { ScanPool } from './pool.js';
import { scanDirectory } from './sources/fs.js';
import { cloneMirror, scanGitRepository, type GitConnection } from './sources/git.js';
import type { S3Options } from './sources/s3.js';
import { scanStaged } from './sources/staged.js';
import { scanStream } from './sources/stdin.js';
import type { EngineConfig, Finding } from './types.js';

/** What `keyturn scan` was pointed at. */
export type Target =
  | { readonly type: 'stdin' }
  | { readonly type: 's3'; readonly url: string }
  | { readonly type: 'git-url'; readonly url: string }
  | { readonly type: 'path'; readonly path: string };

/** Classifies a scan target: `-`, `s3://…`, a git URL (`file://`, `https://…`, `ssh://`, `git@host:…`), else a path. */
export function parseTarget(text: string): Target {
  if (text === '-') return { type: 'stdin' };
  if (text.startsWith('s3://')) return { type: 's3', url: text };
  if (/^(?:https?|ssh|git|file):\/\//.test(text) || /^[\w.-]+@[\w.-]+:/.test(text)) return { type: 'git-url', url: text };
  return { type: 'path', path: text };
}

/** Options of {@link runScan}. */
export interface RunScanOptions {
  readonly config: EngineConfig;
  readonly history?: boolean;
  /** Only what the next commit adds: the staged diff's added lines of the repository at the path. */
  readonly staged?: boolean;
  readonly gitignore?: boolean;
  /** Directories a directory scan never enters, besides every keyturn data directory. */
  readonly skipDirs?: readonly string[];
  readonly stateDir?: string;
  readonly baseline?: Baseline;
  readonly threads?: number;
  readonly inlineBytes?: number;
  readonly s3?: S3Options;
  /** How git connects to a remote `git-url` target (the server pins it to the addresses its egress guard checked). */
  readonly git?: GitConnection;
  readonly stdin?: Readable;
  readonly progress?: (p: Progress) => void;
  readonly now?: () => Date;
}

/** Findings (baseline applied, in a stable order) and counts. */
export interface ScanReport extends SourceResult {
  readonly suppressed: number;
}

function isGitWorkTree(path: string): boolean {
  let dir = path;
  for (;;) {
    if (existsSync(join(dir, '.git'))) return true;
    if (existsSync(join(dir, 'HEAD')) && existsSync(join(dir, 'objects'))) return true;
    const up = dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

async function runSource(target: Target, ctx: ScanContext, options: RunScanOptions): Promise<SourceResult> {
  switch (target.type) {
    case 'stdin':
      return scanStream(options.stdin ?? process.stdin, ctx);
    case 's3':
      // Loaded only for S3 targets: the AWS SDK is large.
      return (await import('./sources/s3.js')).scanS3(target.url, ctx, options.s3);
    case 'git-url': {
      const repo = await cloneMirror(target.url, options.git);
      try {
        return await scanGitRepository(repo, ctx, { history: options.history ?? false, sourceId: target.url });
      } finally {
        await rm(dirname(repo), { recursive: true, force: true });
      }
    }
    case 'path': {
      if (options.staged) return scanStaged(target.path, ctx);
      if (options.history) {
        if (!existsSync(target.path) || !statSync(target.path).isDirectory() || !isGitWorkTree(target.path)) {
          throw new KeyturnError('ERR_VALIDATION', `--history needs a git repository: ${target.path}`);
        }
        return scanGitRepository(target.path, ctx, { history: true });
      }
      return scanDirectory(target.path, ctx, { gitignore: options.gitignore ?? false, ...(options.skipDirs ? { skipDirs: options.skipDirs } : {}) });
    }
  }
}

function order(a: Finding, b: Finding): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule);
}

/**
 * Scans one target with a fresh pool of threads and returns its findings.
 *
 * @example
 * ```ts
 * const report = await runScan(parseTarget('.'), { config: buildEngineConfig() });
 * report.findings.length;
 * ```
 */
export async function runScan(target: Target, options: RunScanOptions): Promise<ScanReport> {
  const pool = new ScanPool(options.config, {
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.inlineBytes === undefined ? {} : { inlineBytes: options.inlineBytes }),
  });
  const ctx: ScanContext = {
    pool,
    now: options.now ?? (() => new Date()),
    ...(options.progress ? { progress: options.progress } : {}),
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  };
  try {
    const result = await runSource(target, ctx, options);
    const findings = applyBaseline(result.findings, options.baseline).sort(order);
    return { ...result, findings, suppressed: result.findings.length - findings.length };
  } finally {
    await pool.close();
  }
}
