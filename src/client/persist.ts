import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `text` to `file` atomically: into a temporary file beside it with the original's mode
 * (0600 for a new file), flushed, then renamed over it — a reader sees the old content or the
 * new, never half of either.
 */
export function writeFileAtomic(file: string, text: string): void {
  let mode = 0o600;
  try {
    mode = statSync(file).mode & 0o7777;
  } catch {
    // A new file: readable by its owner only.
  }
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(temp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    chmodSync(temp, mode);
    renameSync(temp, file);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(temp);
    } catch {
      // already renamed or gone
    }
    throw err;
  }
}

/** `NAME=value` (optionally `export `, the value optionally quoted): the last assignment of `name` in `lines`. */
function findAssignment(lines: readonly string[], name: string): { index: number; with(next: string): string } | undefined {
  const pattern = new RegExp(`^(\\s*(?:export\\s+)?${name}\\s*=\\s*)(["']?)([^"'\\s#]*)\\2(\\s*(?:#.*)?)$`);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = pattern.exec(lines[i]!);
    if (m) return { index: i, with: (next) => `${m[1]}${m[2]}${next}${m[2]}${m[4]}` };
  }
  return undefined;
}

/** Replaces the value of `name` in the env file `file`, nothing else, atomically with its mode kept. */
export function writeEnvAssignment(file: string, name: string, value: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`keyturn/client: ${JSON.stringify(name.slice(0, 64))} is not a variable name`);
  const lines = readFileSync(file, 'utf8').split('\n');
  const found = findAssignment(lines, name);
  if (!found) throw new Error(`keyturn/client: ${name} is not set in ${file}`);
  lines[found.index] = found.with(value);
  writeFileAtomic(file, lines.join('\n'));
}
