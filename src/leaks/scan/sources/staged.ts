import { KeyturnError } from '../../../core/errors.js';
import { Collector, type ScanContext, type SourceResult } from '../collect.js';
import type { Finding, ItemResult } from '../types.js';
import { git, gitBytes } from './git.js';

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

/** A staged file with its whole staged content, as rebuilt from a full-context diff. */
export interface StagedContent extends StagedFile {
  /** The new version's bytes: its context and added lines (meaningful only with full context). */
  readonly content: Buffer;
}

/**
 * Parses a `git diff --cached --no-prefix --full-index` patch: the files, their added line
 * ranges (numbered in the new version) and the new version's bytes, rebuilt from the hunks'
 * context and added lines (the whole file when the diff has unlimited context). Hunk bodies are
 * read by their counts, so no content line is ever taken for a header. Files without added lines
 * (pure renames, deletions, mode changes, binary files) are left out.
 */
function parsePatch(patch: Buffer): StagedContent[] {
  const files: StagedContent[] = [];
  // The current line is patch[from, to) (its newline at `to`); lines are read by offset, and only
  // header lines are decoded.
  let from = 0;
  let to = -1;
  const next = (): boolean => {
    if (to >= patch.length) return false;
    from = to + 1;
    to = patch.indexOf(10, from);
    if (to === -1) to = patch.length;
    return true;
  };
  let sha = '';
  let path: string | undefined;
  let added: [number, number][] = [];
  /** The new version's lines: start and end offsets in `patch`, the marker excluded. */
  let ranges: number[] = [];
  /** The new version's last line ends without a newline. */
  let unterminated = false;
  const flush = () => {
    if (path !== undefined && sha && added.length > 0) {
      let size = ranges.length / 2 - (unterminated ? 1 : 0);
      for (let r = 0; r < ranges.length; r += 2) size += (ranges[r + 1] as number) - (ranges[r] as number);
      const content = Buffer.allocUnsafe(size);
      let at = 0;
      for (let r = 0; r < ranges.length; r += 2) {
        at += patch.copy(content, at, ranges[r], ranges[r + 1]);
        if (at < size) content[at++] = 10;
      }
      files.push({ path, sha, added, content });
    }
    path = undefined;
    sha = '';
    added = [];
    ranges = [];
    unterminated = false;
  };
  while (next()) {
    const first = patch[from];
    // Header lines start with one of `d` (diff), `i` (index), `+` (+++), `@` (hunk); others are skipped undecoded.
    if (first !== 0x64 && first !== 0x69 && first !== 0x2b && first !== 0x40) continue;
    const line = patch.toString('utf8', from, to);
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
    if (!hunk) continue;
    // The body: `oldCount` lines of the old version (context or `-`) and `newCount` of the new
    // (context or `+`), and any `\ No newline at end of file` notes, which follow the line they mean.
    let oldCount = hunk[1] === undefined ? 1 : Number(hunk[1]);
    let newCount = hunk[3] === undefined ? 1 : Number(hunk[3]);
    let lineNo = Number(hunk[2]);
    let lastNew = false;
    const note = () => {
      if (lastNew) unterminated = true; // the note means the new version's last line
    };
    while ((oldCount > 0 || newCount > 0) && next()) {
      const mark = patch[from];
      if (mark === 0x5c /* \ */) {
        note();
        continue;
      }
      lastNew = mark !== 0x2d /* - */;
      if (mark === 0x2d) {
        oldCount--;
        continue;
      }
      if (mark === 0x2b /* + */) {
        const last = added.at(-1);
        if (last && last[1] === lineNo - 1) last[1] = lineNo;
        else added.push([lineNo, lineNo]);
      } else oldCount--; // context: in both versions (an empty line is an empty context line)
      newCount--;
      lineNo++;
      ranges.push(Math.min(from + 1, to), to);
    }
    // Notes after a hunk's last line (the old version's, when the body ended on the new side).
    while (patch[to + 1] === 0x5c && next()) note();
  }
  flush();
  return files;
}

/**
 * Parses `git diff --cached -U0 --no-prefix --full-index` output into the staged files and
 * their added line ranges (numbered in the new version). Hunk bodies are skipped by their
 * counts, so no content line is ever taken for a header. Files without added lines (pure
 * renames, deletions, mode changes, binary files) are left out.
 */
export function parseStagedDiff(diff: string): StagedFile[] {
  return parsePatch(Buffer.from(diff, 'utf8')).map(({ path, sha, added }) => ({ path, sha, added }));
}

/**
 * The staged diff: index against HEAD (or, before the first commit, against nothing), with
 * unlimited context, so that each changed file's whole staged version is in it and no second
 * git process has to read the blobs; full blob ids, paths C-quoted when special, blank context
 * lines kept as such; renames and copies found, so a moved file counts only for what changed in
 * it; submodules, external diff tools and textconv filters left out.
 */
const STAGED_DIFF = [
  '-c',
  'core.quotePath=true',
  '-c',
  'diff.suppressBlankEmpty=false',
  'diff',
  '--cached',
  `--unified=${2 ** 31 - 1}`,
  '--no-prefix',
  '--full-index',
  '--no-color',
  '--no-ext-diff',
  '--no-textconv',
  '--ignore-submodules',
  '--find-renames',
  '--diff-filter=ACMR',
];

/**
 * The files the next commit adds to or changes, each with its added line ranges and its whole
 * staged version (the index's blob, byte for byte), from one `git diff --cached` process (a hook
 * runs this on every commit). Whether `repo` is a repository at all is asked only when the diff
 * fails, and that is then the error reported (`ERR_NOT_FOUND`).
 */
export async function stagedContents(repo: string): Promise<StagedContent[]> {
  const patch = await gitBytes(repo, STAGED_DIFF).catch(async (err: unknown) => {
    const isRepo = await git(repo, ['rev-parse', '--git-dir']).then(
      () => true,
      () => false,
    );
    throw isRepo ? err : new KeyturnError('ERR_NOT_FOUND', `not a git repository: ${repo}`);
  });
  return parsePatch(patch);
}

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
  const diff = stagedContents(repo);
  // Should compiling throw, git's failure is not also reported as an unhandled rejection.
  diff.catch(() => undefined);
  // The engine compiles (the first use of `engine`, ~15 ms of a hook's process) while git
  // computes the diff: its process is already started when stagedContents returns.
  const max = ctx.pool.engine.maxFileBytes;
  const files = await diff;
  const results = new Map<string, ItemResult>();
  const collector = new Collector(ctx, (r) => {
    if (r.key !== undefined) results.set(r.key, r);
  });
  let batch: { name: string; key: string; data: Uint8Array }[] = [];
  for (const [i, file] of files.entries()) {
    if (file.content.length > max) {
      collector.skipped++;
      continue;
    }
    batch.push({ name: file.path, key: String(i), data: file.content });
    if (batch.length >= 64) {
      const items = batch;
      batch = [];
      await collector.add({ type: 'buffers', items });
    }
  }
  if (batch.length > 0) await collector.add({ type: 'buffers', items: batch });
  const result = await collector.finish();
  const findings: Finding[] = [];
  files.forEach((file, i) => {
    for (const f of results.get(String(i))?.findings ?? []) if (onAddedLine(file, f)) findings.push(f);
  });
  return { ...result, findings };
}
