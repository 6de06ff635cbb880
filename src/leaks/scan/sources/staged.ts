import { KeyturnError } from '../../../core/errors.js';
import { Collector, type ScanContext, type SourceResult } from '../collect.js';
import type { Finding, ItemResult } from '../types.js';
import { git, readBlobs, type Blob } from './git.js';

/** One file the next commit adds to or changes: its staged blob and the lines it adds (new numbering). */
export interface StagedFile {
  readonly path: string;
  /** The blob in the index. */
  readonly sha: string;
  /** Added line ranges in the new version, 1-based and inclusive, in order. */
  readonly added: readonly (readonly [number, number])[];
}

const C_ESCAPES: Readonly<Record<string, number>> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/**
 * A path as git prints it in a diff header: as is, or C-quoted (`"dir/\303\251t\303\251.txt"`)
 * when it holds special or (with `core.quotePath`) non-ASCII bytes.
 */
export function unquoteGitPath(text: string): string {
  if (!text.startsWith('"') || !text.endsWith('"') || text.length < 2) return text;
  const bytes: number[] = [];
  const body = text.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? '';
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const next = body[i + 1] ?? '';
    if (/[0-7]/.test(next)) {
      bytes.push(Number.parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(C_ESCAPES[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Parses `git diff --cached -U0 --no-prefix --full-index` output into the staged files and
 * their added line ranges. Hunk bodies are skipped by their counts, so no content line is ever
 * taken for a header. Files without added lines (pure renames, deletions, mode changes, binary
 * files) are left out.
 */
export function parseStagedDiff(diff: string): StagedFile[] {
  const files: StagedFile[] = [];
  const lines = diff.split('\n');
  let sha = '';
  let path: string | undefined;
  let added: [number, number][] = [];
  const flush = () => {
    if (path !== undefined && sha && added.length > 0) files.push({ path, sha, added });
    path = undefined;
    sha = '';
    added = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.startsWith('diff --git ')) {
      flush();
      continue;
    }
    if (line.startsWith('index ')) {
      sha = /^index [0-9a-f]+\.\.([0-9a-f]+)/.exec(line)?.[1] ?? '';
      continue;
    }
    if (line.startsWith('+++ ')) {
      // git ends the name with a tab when it holds a space (for GNU patch).
      const target = line.slice(4).replace(/\t$/, '');
      path = target === '/dev/null' ? undefined : unquoteGitPath(target);
      continue;
    }
    const hunk = /^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (hunk) {
      const removed = hunk[1] === undefined ? 1 : Number(hunk[1]);
      const start = Number(hunk[2]);
      const count = hunk[3] === undefined ? 1 : Number(hunk[3]);
      if (count > 0) added.push([start, start + count - 1]);
      // Skip the body: `removed` lines of `-`, `count` lines of `+`, and any `\ No newline` notes.
      let body = removed + count;
      while (body > 0 && i + 1 < lines.length) {
        i++;
        if (!(lines[i] ?? '').startsWith('\\')) body--;
      }
      while ((lines[i + 1] ?? '').startsWith('\\')) i++;
    }
  }
  flush();
  return files;
}

/**
 * The staged diff: index against HEAD (or, before the first commit, against nothing), no
 * context, full blob ids, paths C-quoted when special; renames and copies found, so a moved
 * file counts only for what changed in it; submodules, external diff tools and textconv
 * filters left out.
 */
const STAGED_DIFF = [
  '-c',
  'core.quotePath=true',
  'diff',
  '--cached',
  '-U0',
  '--no-prefix',
  '--full-index',
  '--no-color',
  '--no-ext-diff',
  '--no-textconv',
  '--ignore-submodules',
  '--find-renames',
  '--diff-filter=ACMR',
];

function addsLine(added: readonly (readonly [number, number])[], first: number, last: number): boolean {
  return added.some(([from, to]) => first <= to && last >= from);
}

/** Whether a finding in the new version of a file touches a line the commit adds. */
function onAddedLine(file: StagedFile, f: Finding): boolean {
  let newlines = 0;
  for (let i = f.secret.indexOf('\n'); i !== -1; i = f.secret.indexOf('\n', i + 1)) newlines++;
  return addsLine(file.added, f.line, f.line + newlines);
}

/**
 * Scans what the next commit adds in the repository at `repo`: the staged version (the index)
 * of every added, copied, modified or renamed file, keeping only the findings on lines the
 * staged diff adds (numbered as in the new version). A secret the commit removes, and unstaged
 * or untracked changes, are never looked at. Whole blobs are scanned so that a secret spanning
 * lines (a private key) is recognised, and its finding kept if any of its lines is added.
 */
export async function scanStaged(repo: string, ctx: ScanContext): Promise<SourceResult> {
  // Both at once (a hook runs this on every commit); not being in a repository is the error reported.
  const [isRepo, diff] = await Promise.allSettled([
    git(repo, ['rev-parse', '--git-dir']),
    git(repo, STAGED_DIFF),
  ]);
  if (isRepo.status === 'rejected') throw new KeyturnError('ERR_NOT_FOUND', `not a git repository: ${repo}`);
  if (diff.status === 'rejected') throw diff.reason;
  const files = parseStagedDiff(diff.value);
  const max = ctx.pool.engine.maxFileBytes;
  const results = new Map<string, ItemResult>();
  const collector = new Collector(ctx, (r) => {
    if (r.key !== undefined) results.set(r.key, r);
  });
  const blobs = new Map<Blob, string>(files.map((f, i) => [{ sha: f.sha, size: 0, path: f.path }, String(i)]));
  let batch: { name: string; key: string; data: Uint8Array }[] = [];
  await readBlobs(repo, [...blobs.keys()], async (blob, data) => {
    if (data.length > max) {
      collector.skipped++;
      return;
    }
    batch.push({ name: blob.path, key: blobs.get(blob) ?? '', data });
    if (batch.length >= 64) {
      const items = batch;
      batch = [];
      await collector.add({ type: 'buffers', items });
    }
  });
  if (batch.length > 0) await collector.add({ type: 'buffers', items: batch });
  const result = await collector.finish();
  const findings: Finding[] = [];
  files.forEach((file, i) => {
    for (const f of results.get(String(i))?.findings ?? []) if (onAddedLine(file, f)) findings.push(f);
  });
  return { ...result, findings };
}
