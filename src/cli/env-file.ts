import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { usageError } from './client.js';

/** One `NAME=value` line of an env file (optionally `export NAME=…`, the value optionally quoted). */
interface EnvLine {
  readonly index: number;
  readonly value: string;
  /** The line with the value replaced by `next`, same quoting. */
  with(next: string): string;
}

/** Finds `name` in the lines of an env file: the last assignment wins, as in shells and dotenv. */
function findVar(lines: readonly string[], name: string): EnvLine | undefined {
  const pattern = new RegExp(`^(\\s*(?:export\\s+)?${name}\\s*=\\s*)(["']?)([^"'\\s#]*)\\2(\\s*(?:#.*)?)$`);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = pattern.exec(lines[i]!);
    if (m) return { index: i, value: m[3]!, with: (next) => `${m[1]}${m[2]}${next}${m[2]}${m[4]}` };
  }
  return undefined;
}

/** The value of `name` in `file`; a usage error (exit 2) when the file or the variable is missing. */
export function readEnvVar(file: string, name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw usageError(`--var: ${JSON.stringify(name.slice(0, 64))} is not a variable name`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw usageError(`--env-file: cannot read ${file}`);
  }
  const found = findVar(text.split('\n'), name);
  if (!found || found.value === '') throw usageError(`--var: ${name} is not set in ${file}`);
  return found.value;
}

/**
 * Replaces the value of `name` in `file`, nothing else: written to a temporary file in the same
 * directory with the same mode, flushed, then renamed over the original (atomic: a reader sees
 * the old file or the new one, never half of it).
 */
export function writeEnvVar(file: string, name: string, value: string): void {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const found = findVar(lines, name);
  if (!found) throw usageError(`--var: ${name} is not set in ${file}`);
  lines[found.index] = found.with(value);
  const mode = statSync(file).mode & 0o7777;
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(temp, 'wx', mode);
  try {
    writeSync(fd, lines.join('\n'));
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(temp);
    throw err;
  }
  closeSync(fd);
  chmodSync(temp, mode);
  renameSync(temp, file);
}
