import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SYSTEM } from '../audit/events.js';
import { isKeyturnError } from '../core/errors.js';
import type { Keyturn } from './open.js';
import { makePrivateDir } from './permissions.js';

export const BOOTSTRAP_PRINCIPAL = 'bootstrap-admin';

/**
 * On the first start against an empty store: creates the `bootstrap-admin` service principal and
 * an API key with scope `admin`, written to `<dataDir>/admin.key` (mode 0600). Returns the file's
 * path, or `undefined` when the store already had principals. The key itself is never printed.
 *
 * The file is written before the transaction commits and renamed into place after, so a crash
 * leaves either no admin key anywhere or one that works.
 */
export async function bootstrapAdmin(kt: Keyturn): Promise<string | undefined> {
  if ((await kt.principals.count()) > 0) return undefined;
  const dir = resolve(kt.config.server.dataDir);
  makePrivateDir(dir);
  const file = join(dir, 'admin.key');
  const pending = `${file}.${process.pid}.tmp`;
  try {
    await kt.store.transaction(async (tx) => {
      const principal = await kt.principals.createIn(tx, { kind: 'service', name: BOOTSTRAP_PRINCIPAL }, SYSTEM);
      const { secret } = await kt.keys.createIn(tx, { owner: principal.id, name: 'bootstrap admin key', scopes: ['admin'] }, SYSTEM);
      writeFileSync(pending, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    });
  } catch (err) {
    rmSync(pending, { force: true });
    // Another node bootstrapped the same database first.
    if (isKeyturnError(err, 'ERR_CONFLICT')) return undefined;
    throw err;
  }
  renameSync(pending, file);
  return file;
}
