import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { KeyturnError } from '../core/errors.js';

/**
 * Files only their owner can read. keyturn creates its data directory `0700` and its files
 * (the SQLite database with its `-wal`/`-shm` companions, the master key, the bootstrap admin key)
 * `0600`, whatever the umask; at start it checks them and refuses to run when another user could
 * read or enter them, unless `allowLoosePermissions` is set (then it warns). POSIX only: on Windows,
 * modes say nothing about who can read a file, so nothing is checked.
 */

/** Creates `dir` (and missing parents) mode `0700` exactly, umask or not; leaves an existing one alone. */
export function makePrivateDir(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first === undefined || process.platform === 'win32') return;
  // Every directory this call created, from the first one down to `dir` (a parent first: the
  // umask may have left it without the search bit its children need).
  const top = resolve(first);
  const created: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    created.push(at);
    if (at === top || dirname(at) === at) break;
  }
  for (const path of created.reverse()) chmodSync(path, 0o700);
}

/** One file or directory that others can read, write or enter. */
export interface LoosePermission {
  readonly path: string;
  /** Its mode, e.g. `0644`. */
  readonly mode: string;
  /** The mode it should have: `0700` for a directory, `0600` for a file. */
  readonly want: '0700' | '0600';
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/** The SQLite database file of `config`, or `undefined` with PostgreSQL or an in-memory database. */
function sqliteFile(config: Config): string | undefined {
  const db = config.store.db;
  if (db && /^[a-z]+:\/\//i.test(db)) return undefined;
  const file = db ? db.replace(/^sqlite:/, '') : join(config.server.dataDir, 'keyturn.db');
  return file === ':memory:' ? undefined : resolve(file);
}

/**
 * What of keyturn's own files another user could read: the data directory, the SQLite database and
 * its companions, `master.key` and `admin.key` — those that exist. Empty on Windows.
 */
export function loosePermissions(config: Config): LoosePermission[] {
  if (process.platform === 'win32') return [];
  const dir = resolve(config.server.dataDir);
  const db = sqliteFile(config);
  const files = [join(dir, 'master.key'), join(dir, 'admin.key'), ...(db ? [db, `${db}-wal`, `${db}-shm`, `${db}.lock`] : [])];
  const found: LoosePermission[] = [];
  for (const [path, want] of [[dir, '0700'] as const, ...files.map((f) => [f, '0600'] as const)]) {
    let mode: number;
    try {
      mode = statSync(path).mode;
    } catch {
      continue; // not there (yet): keyturn creates it private
    }
    if ((mode & 0o077) !== 0) found.push({ path, mode: octal(mode), want });
  }
  return found;
}

/**
 * Refuses to start (`ERR_CONFIG`, naming each path and the `chmod` that fixes it) when
 * {@link loosePermissions} finds anything, or only warns with `allowLoosePermissions`.
 */
export function assertPrivateFiles(config: Config, logger?: Logger): void {
  const loose = loosePermissions(config);
  if (loose.length === 0) return;
  if (config.server.allowLoosePermissions) {
    logger?.warn({ files: loose }, 'other users can read keyturn files (allowed by allowLoosePermissions)');
    return;
  }
  const list = loose.map((l) => `${l.path} (${l.mode})`).join(', ');
  const fix = loose.map((l) => `chmod ${l.want.slice(1)} '${l.path}'`).join(' && ');
  throw new KeyturnError(
    'ERR_CONFIG',
    `other users can read keyturn's files: ${list}. Fix with: ${fix} — or start with --allow-loose-permissions (KEYTURN_ALLOW_LOOSE_PERMISSIONS=true) to run anyway`,
  );
}
