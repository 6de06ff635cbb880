import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { appendEvent, SYSTEM } from '../audit/events.js';
import type { Config } from '../config/schema.js';
import { systemContext, type Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { KeyService } from '../keys/index.js';
import { PrincipalService } from '../principals/service.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/port.js';
import { SqliteStore } from '../store/sqlite/index.js';
import { BOOTSTRAP_PRINCIPAL } from './bootstrap.js';
import { MIGRATIONS } from './open.js';

/** What {@link recoverAdmin} did. */
export interface Recovered {
  readonly keyId: string;
  readonly file: string;
  /** Where the file it replaced was kept. */
  readonly previous: string | undefined;
}

/**
 * The SQLite file opened beside a running server (no process hold: SQLite serialises the
 * writers, and a running server reads a key it has not cached from the file), or PostgreSQL.
 */
export async function openDirect(config: Config): Promise<Store> {
  const db = config.store.db;
  if (db && /^[a-z]+:\/\//i.test(db)) return openStore(db, config.server.dataDir, { poolSize: 1 });
  const file = resolve(db ? db.replace(/^sqlite:/, '') : join(config.server.dataDir, 'keyturn.db'));
  if (!existsSync(file)) throw new KeyturnError('ERR_NOT_FOUND', `no keyturn database at ${file} (give --data-dir or --db)`);
  return new SqliteStore({ filename: file, synchronous: config.store.sqliteSynchronous, beside: true });
}

/**
 * `keyturn admin recover`: with direct access to the database (the data directory's SQLite file,
 * or `--db`), mints a new API key with scope `admin` for the bootstrap admin principal and writes
 * it to `file` (default `<dataDir>/admin.key`, mode 0600; a file already there is kept as
 * `admin.key.replaced-<time>`), recording `key.created` and `admin.recovered` in one transaction.
 * Works whether or not the server runs; the key itself is never printed.
 */
export async function recoverAdmin(config: Config, options: { file?: string; ctx?: Context } = {}): Promise<Recovered> {
  const ctx = options.ctx ?? systemContext;
  const store = await openDirect(config);
  const file = resolve(options.file ?? join(config.server.dataDir, 'admin.key'));
  const pending = `${file}.${process.pid}.tmp`;
  const keys: { service?: KeyService } = {};
  try {
    await store.migrate(MIGRATIONS);
    const principals = new PrincipalService(store, ctx);
    keys.service = new KeyService({ store, ctx, principals, prefix: config.keys.prefix });
    const service = keys.service;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const stamp = ctx.now().toISOString().replace(/[:.]/g, '-');
    const keyId = await store.transaction(async (tx) => {
      const principal = (await principals.find(BOOTSTRAP_PRINCIPAL, tx)) ?? (await principals.createIn(tx, { kind: 'service', name: BOOTSTRAP_PRINCIPAL }, SYSTEM));
      if (principal.status !== 'active') {
        throw new KeyturnError('ERR_CONFLICT', `the ${BOOTSTRAP_PRINCIPAL} principal is ${principal.status}; enable it first (keyturn principals enable ${BOOTSTRAP_PRINCIPAL})`);
      }
      const { key, secret } = await service.createIn(tx, { owner: principal.id, name: `recovered admin key ${stamp}`, scopes: ['admin'] }, SYSTEM);
      await appendEvent(tx, ctx, { type: 'admin.recovered', target: key.id, outcome: 'success', data: { principal: principal.id, host: hostname() } }, SYSTEM);
      writeFileSync(pending, `${secret}\n`, { mode: 0o600, flag: 'wx' });
      return key.id;
    });
    let previous: string | undefined;
    if (existsSync(file)) {
      previous = `${file}.replaced-${stamp}`;
      renameSync(file, previous);
    }
    renameSync(pending, file);
    return { keyId, file, previous };
  } finally {
    rmSync(pending, { force: true });
    keys.service?.close();
    await store.close();
  }
}
