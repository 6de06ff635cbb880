import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { DATA_DIR_FILES, DATA_DIR_MARKER } from '../../../core/data-dir.js';
import { KeyturnError } from '../../../core/errors.js';
import { Collector, type ScanContext, type SourceResult } from '../collect.js';
import { isIgnored, parseGitignore, type IgnoreRule } from '../gitignore.js';
import { readState, writeState } from '../state.js';

/** Options of a directory scan. */
export interface DirectoryOptions {
  /** Respect `.gitignore` files. */
  readonly gitignore?: boolean;
  /** Directories never read (besides every keyturn data directory): e.g. the configured data directory. */
  readonly skipDirs?: readonly string[];
}

function canonical(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

/**
 * A keyturn server's data directory: it holds the marker the server writes, or (written by an
 * older version) both an admin key and a master key. A scan never reads one: its admin key would be
 * found, reported and suspended, locking the operator out.
 */
export function isDataDirectory(dir: string): boolean {
  return existsSync(join(dir, DATA_DIR_MARKER)) || DATA_DIR_FILES.every((name) => existsSync(join(dir, name)));
}

interface Entry {
  readonly path: string;
  readonly name: string;
}

/**
 * What a file counts for in batching and scheduling when its size is not known: without
 * incremental state nothing else needs a `stat` per file on this thread, and the scanning thread
 * learns the size when it opens the file.
 */
const UNSTATTED_FILE_BYTES = 16 * 1024;

const BATCH_FILES = 64;
const BATCH_BYTES = 1024 * 1024;

function toPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

interface Directory {
  readonly dir: string;
  readonly ignore: IgnoreRule[];
}

/**
 * Lists one directory: its files to scan and its subdirectories to enter (`.git` and
 * `node_modules` never, ignored paths not with `gitignore`). Synchronous: no thread-pool round
 * trips; the scan keeps this thread busy anyway.
 */
function listDirectory(root: string, { dir, ignore: inherited }: Directory, options: DirectoryOptions, skip: (dir: string) => boolean): { files: Entry[]; subdirs: Directory[] } {
  const relDir = toPosix(relative(root, dir));
  let ignore = inherited;
  if (options.gitignore) {
    try {
      ignore = [...inherited, ...parseGitignore(readFileSync(join(dir, '.gitignore'), 'utf8'), relDir)];
    } catch {
      /* no .gitignore here */
    }
  }
  const files: Entry[] = [];
  const subdirs: Directory[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const rel = relDir === '' ? d.name : `${relDir}/${d.name}`;
    if (d.isDirectory()) {
      if (d.name === '.git' || d.name === 'node_modules') continue;
      if (options.gitignore && isIgnored(ignore, rel, true)) continue;
      if (skip(join(dir, d.name))) continue;
      subdirs.push({ dir: join(dir, d.name), ignore });
    } else if (d.isFile()) {
      if (options.gitignore && isIgnored(ignore, rel, false)) continue;
      files.push({ path: join(dir, d.name), name: rel });
    }
  }
  return { files, subdirs };
}

/**
 * Scans a directory tree: every regular file (symlinks are not followed), binary and
 * oversized files skipped, `.git` and `node_modules` never entered. With `ctx.stateDir`, only
 * files whose size or modification time changed since the last scan are read.
 */
export async function scanDirectory(dir: string, ctx: ScanContext, options: DirectoryOptions = {}): Promise<SourceResult> {
  const root = resolve(dir);
  const st = await lstat(root).catch(() => undefined);
  if (!st) throw new KeyturnError('ERR_NOT_FOUND', `no such file or directory: ${dir}`);
  const collector = new Collector(ctx);
  const skipDirs = new Set((options.skipDirs ?? []).map(canonical));
  const skippedDataDirs: string[] = [];
  const skip = (d: string): boolean => {
    if (!isDataDirectory(d) && !(skipDirs.size > 0 && skipDirs.has(canonical(d)))) return false;
    skippedDataDirs.push(d);
    return true;
  };
  if (skip(st.isFile() ? dirname(root) : root)) return { ...(await collector.finish()), skippedDataDirs };
  if (st.isFile()) {
    await collector.add({ type: 'files', files: [{ path: root, name: toPosix(relative(process.cwd(), root)) || root, size: st.size }] });
    return collector.finish();
  }
  const source = `dir:${root}`;
  const previous = ctx.stateDir ? readState(ctx.stateDir, source) : undefined;
  const stamps: Record<string, string> = {};
  const maxBytes = ctx.pool.engine.maxFileBytes;
  let batch: { path: string; name: string; size: number }[] = [];
  let batchBytes = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const files = batch;
    batch = [];
    batchBytes = 0;
    await collector.add({ type: 'files', files });
  };
  const stack: Directory[] = [{ dir: root, ignore: [] }];
  while (stack.length > 0) {
    const { files, subdirs } = listDirectory(root, stack.pop()!, options, skip);
    for (const { path, name } of files) {
      let size = UNSTATTED_FILE_BYTES;
      if (ctx.stateDir) {
        // Synchronous: far cheaper than a thread-pool round trip per file on a local disk.
        const st = lstatSync(path, { throwIfNoEntry: false });
        if (!st) continue;
        const stamp = `${st.size}:${st.mtimeMs}`;
        stamps[name] = stamp;
        if (previous?.stamps?.[name] === stamp) continue;
        size = Math.min(st.size, maxBytes + 1);
      }
      batch.push({ path, name, size });
      batchBytes += size;
      if (batch.length >= BATCH_FILES || batchBytes >= BATCH_BYTES) await flush();
    }
    // Depth first, in listing order.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
  await flush();
  const result = await collector.finish();
  if (ctx.stateDir) writeState(ctx.stateDir, { version: 1, source, stamps, scannedAt: ctx.now().toISOString() });
  return skippedDataDirs.length > 0 ? { ...result, skippedDataDirs } : result;
}
