import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Incremental scanning: what was already scanned, per source, in one small JSON file under a
 * state directory, named by the SHA-256 of the source's identity. No secret is ever stored.
 */
export interface SourceState {
  readonly version: 1;
  readonly source: string;
  /** Git: ref tips already scanned. */
  readonly tips?: readonly string[];
  /** Directories and buckets: a version stamp per path or key (size+mtime, ETag). */
  readonly stamps?: Readonly<Record<string, string>>;
  /** Fingerprints already reported for this source. */
  readonly fingerprints?: readonly string[];
  readonly scannedAt: string;
}

function stateFile(dir: string, source: string): string {
  return join(dir, `${createHash('sha256').update(source).digest('hex').slice(0, 32)}.json`);
}

/** The last state recorded for `source`, if any (a corrupt file counts as none). */
export function readState(dir: string, source: string): SourceState | undefined {
  try {
    const value = JSON.parse(readFileSync(stateFile(dir, source), 'utf8')) as SourceState;
    return value.version === 1 && value.source === source ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Records `state` atomically (write then rename). */
export function writeState(dir: string, state: SourceState): void {
  mkdirSync(dir, { recursive: true });
  const file = stateFile(dir, state.source);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`);
  renameSync(tmp, file);
}

/**
 * The fingerprint key kept in a state directory (`fingerprint.key`, 64 hex, mode 0600), created on
 * first use: incremental scans with the same state directory fingerprint alike from run to run.
 */
export function stateFingerprintKey(dir: string): string {
  const file = join(dir, 'fingerprint.key');
  const read = (): string | undefined => {
    try {
      const text = readFileSync(file, 'utf8').trim();
      return /^[0-9a-f]{64}$/.test(text) ? text : undefined;
    } catch {
      return undefined;
    }
  };
  const existing = read();
  if (existing) return existing;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('hex');
  try {
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch {
    // Another scan created it first (or an unreadable one is in the way): theirs, else this one.
    return read() ?? key;
  }
}
