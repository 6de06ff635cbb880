import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { KeyturnError } from '../../../core/errors.js';
import { Collector, type ScanContext, type SourceResult } from '../collect.js';
import { readState, writeState } from '../state.js';
import type { Finding, ItemResult } from '../types.js';

/** Options of a git scan. */
export interface GitOptions {
  /** Every blob reachable from any ref (default), or only the files at HEAD. */
  readonly history?: boolean;
  /** Identity of the source for incremental state (default: the repository path). */
  readonly sourceId?: string;
}

/** A git blob to read: its id, size and a path it is known by. */
export interface Blob {
  readonly sha: string;
  readonly size: number;
  readonly path: string;
}

/**
 * How git must connect to a remote (the server's egress guard pins it to the addresses it checked):
 * `-c name=value` options placed before the git command, and variables added to git's environment.
 */
export interface GitConnection {
  readonly config: readonly string[];
  /** Environment variables git must run without (they would override `config`). */
  readonly unsetEnv: readonly string[];
}

/**
 * Runs git, resolving to its stdout; `ERR_UPSTREAM` with git's first stderr line on failure.
 * `unsetEnv`: variables git runs without (through `env -u`, the environment otherwise inherited).
 */
export async function git(repo: string, args: readonly string[], input?: string, unsetEnv: readonly string[] = []): Promise<string> {
  return (await gitBytes(repo, args, input, unsetEnv)).toString('utf8');
}

/** {@link git}, resolving to stdout's bytes as git wrote them (file contents need not be UTF-8). */
export function gitBytes(repo: string, args: readonly string[], input?: string, unsetEnv: readonly string[] = []): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const argv = ['-C', repo, ...args];
    const [command, commandArgs] = unsetEnv.length === 0 ? ['git', argv] : ['env', [...unsetEnv.flatMap((name) => ['-u', name]), 'git', ...argv]];
    const child = spawn(command, commandArgs, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new KeyturnError('ERR_UPSTREAM', `cannot run git: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else {
        const line = Buffer.concat(err).toString('utf8').trim().split('\n')[0] ?? '';
        reject(new KeyturnError('ERR_UPSTREAM', `git ${args[0] ?? ''} failed: ${line}`));
      }
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

/**
 * Clones `url` (all refs, bare) into a temporary directory; the caller removes it. `connection`
 * (from the egress guard) makes git connect only where it was checked to.
 */
export async function cloneMirror(url: string, connection?: GitConnection): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keyturn-clone-'));
  try {
    await git(dir, [...(connection?.config ?? []), 'clone', '--mirror', '--quiet', '--', url, join(dir, 'repo.git')], undefined, connection?.unsetEnv);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return join(dir, 'repo.git');
}

async function refTips(repo: string): Promise<string[]> {
  const out = await git(repo, ['for-each-ref', '--format=%(objectname)']);
  return [...new Set(out.split('\n').filter(Boolean))].sort();
}

/** The subset of `shas` that still exist in `repo` (tips from an earlier scan may have been force-pushed away). */
async function existing(repo: string, shas: readonly string[]): Promise<string[]> {
  if (shas.length === 0) return [];
  const out = await git(repo, ['cat-file', '--batch-check=%(objectname) %(objecttype)'], `${shas.join('\n')}\n`);
  return out.split('\n').filter((l) => / commit$/.test(l)).map((l) => l.split(' ')[0] ?? '');
}

/** Blobs to scan: every reachable blob not reachable from `exclude`, with the first path it was seen at. */
async function historyBlobs(repo: string, exclude: readonly string[]): Promise<Blob[]> {
  const list = await git(repo, ['rev-list', '--objects', '--all', '--stdin'], exclude.map((s) => `^${s}\n`).join(''));
  const out = await git(repo, ['cat-file', '--batch-check=%(objectname) %(objecttype) %(objectsize) %(rest)'], list);
  return parseBatchCheck(out);
}

function parseBatchCheck(out: string): Blob[] {
  const blobs: Blob[] = [];
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]{40,64}) blob (\d+) ?(.*)$/.exec(line);
    if (m?.[1] && m[2]) blobs.push({ sha: m[1], size: Number(m[2]), path: m[3] ?? '' });
  }
  return blobs;
}

/** Blobs of the tree at HEAD. */
async function headBlobs(repo: string): Promise<Blob[]> {
  const out = await git(repo, ['ls-tree', '-r', '-l', '--full-tree', 'HEAD']).catch(() => '');
  const blobs: Blob[] = [];
  for (const line of out.split('\n')) {
    const m = /^\d+ blob ([0-9a-f]+)\s+(\d+)\t(.*)$/.exec(line);
    if (m?.[1] && m[2] && m[3] !== undefined) blobs.push({ sha: m[1], size: Number(m[2]), path: m[3] });
  }
  return blobs;
}

/**
 * Streams blob contents out of one `git cat-file --batch` and hands them to `onBlob` in order
 * (missing objects are skipped).
 */
export async function readBlobs(repo: string, blobs: readonly Blob[], onBlob: (blob: Blob, data: Buffer) => Promise<void>): Promise<void> {
  if (blobs.length === 0) return;
  const child = spawn('git', ['-C', repo, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new KeyturnError('ERR_UPSTREAM', `cannot run git: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new KeyturnError('ERR_UPSTREAM', `git cat-file failed (${code})`))));
  });
  child.stdin.on('error', () => undefined);
  child.stdin.end(`${blobs.map((b) => b.sha).join('\n')}\n`);
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  for await (const chunk of child.stdout as Readable) {
    pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
    for (;;) {
      const nl = pending.indexOf(10);
      if (nl === -1) break;
      const header = pending.subarray(0, nl).toString('latin1');
      const size = Number(header.split(' ')[2]);
      if (header.endsWith(' missing') || !Number.isFinite(size)) {
        pending = pending.subarray(nl + 1);
        index++;
        continue;
      }
      if (pending.length < nl + 1 + size + 1) break;
      const data = Buffer.from(pending.subarray(nl + 1, nl + 1 + size));
      pending = pending.subarray(nl + 1 + size + 1);
      const blob = blobs[index++];
      if (blob) await onBlob(blob, data);
    }
  }
  await exited;
}

interface Introduction {
  readonly commit: string;
  readonly time: number;
  readonly path: string;
}

/** For each wanted blob, the oldest commit whose diff adds it, with the path it was added at. */
async function introductions(repo: string, wanted: ReadonlySet<string>, exclude: readonly string[]): Promise<Map<string, Introduction>> {
  const found = new Map<string, Introduction>();
  if (wanted.size === 0) return found;
  const child = spawn(
    'git',
    ['-C', repo, 'log', '--all', '--reverse', '--format=%x01%H %ct', '--raw', '--no-abbrev', '--no-renames', '--stdin'],
    { stdio: ['pipe', 'pipe', 'ignore'] },
  );
  child.stdin.on('error', () => undefined);
  child.stdin.end(exclude.map((s) => `^${s}\n`).join(''));
  let commit = '';
  let time = 0;
  // readline is loaded here only: `scan --staged` (a hook, on every commit) never gets this far.
  const { createInterface } = process.getBuiltinModule('node:readline');
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith('\u0001')) {
      const [sha, ct] = line.slice(1).split(' ');
      commit = sha ?? '';
      time = Number(ct);
      continue;
    }
    const m = /^:\d+ \d+ [0-9a-f]+ ([0-9a-f]+) [A-Z]\d*\t(.*)$/.exec(line);
    if (m?.[1] && m[2] !== undefined && wanted.has(m[1]) && !found.has(m[1])) found.set(m[1], { commit, time, path: m[2] });
  }
  for (const sha of wanted) {
    if (found.has(sha)) continue;
    // Introduced only by a merge: ask git directly.
    const out = await git(repo, ['log', '--all', '--reverse', '--format=%H %ct', `--find-object=${sha}`]).catch(() => '');
    const [c, ct] = (out.split('\n')[0] ?? '').split(' ');
    if (c) found.set(sha, { commit: c, time: Number(ct), path: '' });
  }
  return found;
}

/**
 * Scans a git repository with the real `git`: with `history`, every blob reachable from any
 * ref, each read once; each secret is then reported once, at the commit (and path) that first
 * introduced it, with whether it is still at HEAD. With `ctx.stateDir`, only objects not
 * reachable from the ref tips of the last scan are read, and secrets reported before are not
 * reported again.
 */
export async function scanGitRepository(repo: string, ctx: ScanContext, options: GitOptions = {}): Promise<SourceResult> {
  await git(repo, ['rev-parse', '--git-dir']).catch(() => {
    throw new KeyturnError('ERR_NOT_FOUND', `not a git repository: ${repo}`);
  });
  const history = options.history ?? true;
  const source = `git:${options.sourceId ?? repo}:${history ? 'history' : 'head'}`;
  const previous = ctx.stateDir ? readState(ctx.stateDir, source) : undefined;
  const tips = await refTips(repo);
  const exclude = history && previous?.tips ? await existing(repo, previous.tips) : [];
  const head = await headBlobs(repo);
  const blobs = history ? await historyBlobs(repo, exclude) : head;
  const max = ctx.pool.engine.maxFileBytes;
  const byBlob = new Map<string, ItemResult>();
  const collector = new Collector(ctx, (r) => {
    if (r.findings.length > 0 && r.key) byBlob.set(r.key, r);
  });
  collector.totalBytes = blobs.reduce((n, b) => n + Math.min(b.size, max), 0);
  const small = blobs.filter((b) => b.size <= max);
  collector.skipped += blobs.length - small.length;
  let batch: { name: string; key: string; data: Uint8Array }[] = [];
  let batchBytes = 0;
  await readBlobs(repo, small, async (blob, data) => {
    batch.push({ name: blob.path, key: blob.sha, data });
    batchBytes += data.length;
    if (batch.length >= 64 || batchBytes >= 1024 * 1024) {
      const items = batch;
      batch = [];
      batchBytes = 0;
      await collector.add({ type: 'buffers', items });
    }
  });
  if (batch.length > 0) await collector.add({ type: 'buffers', items: batch });
  const result = await collector.finish();
  const headPaths = new Map<string, string[]>();
  for (const b of head) headPaths.set(b.sha, [...(headPaths.get(b.sha) ?? []), b.path]);
  const findings = history
    ? await attribute(repo, byBlob, headPaths, exclude, new Set(previous?.fingerprints ?? []))
    : [...byBlob.values()].flatMap((r) => r.findings);
  if (ctx.stateDir) {
    const fingerprints = [...new Set([...(previous?.fingerprints ?? []), ...findings.map((f) => f.fingerprint)])];
    writeState(ctx.stateDir, { version: 1, source, tips, fingerprints, scannedAt: ctx.now().toISOString() });
  }
  return { ...result, findings };
}

/**
 * One finding per secret, attributed to its oldest introduction (`commit`). A secret still at
 * HEAD is located where it is at HEAD (file, line and column of the HEAD version, at the path it
 * was introduced at if it is still there), since that is what has to be fixed; one only in
 * history, where it was introduced.
 */
async function attribute(
  repo: string,
  byBlob: ReadonlyMap<string, ItemResult>,
  headPaths: ReadonlyMap<string, readonly string[]>,
  exclude: readonly string[],
  alreadyReported: ReadonlySet<string>,
): Promise<Finding[]> {
  const intro = await introductions(repo, new Set(byBlob.keys()), exclude);
  const best = new Map<string, { finding: Finding; time: number }>();
  const atHead = new Map<string, { finding: Finding; paths: readonly string[] }[]>();
  for (const [sha, result] of byBlob) {
    const where = intro.get(sha);
    const paths = headPaths.get(sha);
    for (const f of result.findings) {
      if (paths) atHead.set(f.fingerprint, [...(atHead.get(f.fingerprint) ?? []), { finding: f, paths }]);
      const time = where?.time ?? Number.MAX_SAFE_INTEGER;
      const current = best.get(f.fingerprint);
      if (current && current.time <= time) continue;
      const file = where?.path || f.file;
      best.set(f.fingerprint, { finding: { ...f, file, ...(where ? { commit: where.commit } : {}) }, time });
    }
  }
  return [...best.values()]
    .filter((b) => !alreadyReported.has(b.finding.fingerprint))
    .map((b) => {
      const places = atHead.get(b.finding.fingerprint);
      if (!places) return { ...b.finding, atHead: false };
      const here = headPlace(places, b.finding.file);
      return { ...b.finding, file: here.file, line: here.finding.line, column: here.finding.column, atHead: true };
    });
}

/** Where a secret is at HEAD: at `preferred` (its introduction's path) if there, else the first path in order. */
function headPlace(places: readonly { finding: Finding; paths: readonly string[] }[], preferred: string): { file: string; finding: Finding } {
  for (const p of places) if (p.paths.includes(preferred)) return { file: preferred, finding: p.finding };
  let first: { file: string; finding: Finding } | undefined;
  for (const p of places) for (const file of p.paths) if (!first || file.localeCompare(first.file) < 0) first = { file, finding: p.finding };
  return first ?? { file: preferred, finding: places[0]!.finding };
}
