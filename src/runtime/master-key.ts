import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { KeyturnError } from '../core/errors.js';
import { makePrivateDir } from './permissions.js';
import { parseMasterKey } from '../signing/kek.js';

/**
 * The key-encryption key: `masterKey` from configuration, else `<dataDir>/master.key`, created
 * with mode 0600 on first start. The key is never logged.
 */
export function loadMasterKey(config: Config): Uint8Array {
  if (config.signing.masterKey) return parseMasterKey(config.signing.masterKey);
  const dir = resolve(config.server.dataDir);
  const file = join(dir, 'master.key');
  try {
    return parseMasterKey(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof KeyturnError) throw new KeyturnError('ERR_CONFIG', `${file}: ${err.message}`);
      throw new KeyturnError('ERR_CONFIG', `cannot read ${file}`);
    }
  }
  makePrivateDir(dir);
  const key = randomBytes(32);
  try {
    writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch {
    // Another process created it first: use theirs.
    return parseMasterKey(readFileSync(file, 'utf8'));
  }
  return key;
}
