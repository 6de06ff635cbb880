import Database from 'better-sqlite3';
import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { KeyturnError } from '../../core/errors.js';

/** One process's hold on a database file: shared by every store this process opens on it. */
interface Hold {
  readonly lock: Database.Database;
  count: number;
}

const holds = new Map<string, Hold>();

/** The canonical path of `file` (its directory resolved through symlinks), so two spellings share one hold. */
function canonical(file: string): string {
  try {
    return join(realpathSync(dirname(file)), basename(file));
  } catch {
    return file;
  }
}

/**
 * Takes this process's exclusive hold on the SQLite database `file`, or throws `ERR_CONFIG` when
 * another process holds it. Returns the function that releases it.
 *
 * SQLite serves one keyturn process: its change feed (cache invalidation, signing key reloads) is
 * in-process, so a second process on the same file would keep answering from stale caches. The
 * hold is an exclusive SQLite lock on a companion file `<file>.lock`, kept for as long as the
 * process has a store open on `file`. The operating system drops the lock when the process ends,
 * however it ends, so a crashed holder never leaves a stale lock behind. Several stores opened by
 * one process (tests open two "nodes" on one file) share the hold.
 */
export function holdDatabaseFile(file: string): () => void {
  const key = canonical(file);
  let hold = holds.get(key);
  if (!hold) {
    const lockFile = `${key}.lock`;
    let lock: Database.Database;
    try {
      lock = new Database(lockFile, { timeout: 0 });
    } catch (err) {
      throw new KeyturnError('ERR_STORE_UNAVAILABLE', `cannot open the lock file ${lockFile}`, { cause: err });
    }
    try {
      // Why: an EXCLUSIVE lock held in an open transaction keeps every other process out, and the
      // operating system releases it when this process exits.
      lock.pragma('locking_mode = EXCLUSIVE');
      lock.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      lock.close();
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
        throw new KeyturnError(
          'ERR_CONFIG',
          `another keyturn process is using the SQLite database ${key}: SQLite serves one process (use PostgreSQL to run several)`,
        );
      }
      throw new KeyturnError('ERR_STORE_UNAVAILABLE', `cannot lock ${lockFile}`, { cause: err });
    }
    hold = { lock, count: 0 };
    holds.set(key, hold);
  }
  hold.count++;
  const held = hold;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--held.count > 0) return;
    holds.delete(key);
    held.lock.close();
  };
}
