import { join, resolve } from 'node:path';
import { KeyturnError } from '../core/errors.js';
import type { Store } from './port.js';
import { PostgresStore } from './postgres/index.js';
import { SqliteStore } from './sqlite/index.js';

/**
 * Opens the store named by `db`: a `postgres://` / `postgresql://` URL, `sqlite:PATH`, a file
 * path, or nothing for `<dataDir>/keyturn.db`. `poolSize` bounds PostgreSQL's connection pool (the
 * change feed's LISTEN connection comes on top); an SQLite file is refused (`ERR_CONFIG`) while
 * another process has it open.
 */
export async function openStore(
  db: string | undefined,
  dataDir: string,
  options: { onFeedError?: (err: unknown) => void; sqliteSynchronous?: 'normal' | 'full'; poolSize?: number } = {},
): Promise<Store> {
  const { onFeedError, poolSize } = options;
  if (db && /^postgres(ql)?:\/\//.test(db)) {
    const url = new URL(db);
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    const store = new PostgresStore({
      url: url.toString(),
      ...(schema ? { schema } : {}),
      ...(onFeedError ? { onFeedError } : {}),
      ...(poolSize === undefined ? {} : { maxConnections: poolSize }),
    });
    try {
      await store.connect();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return store;
  }
  if (db && /^[a-z]+:\/\//i.test(db)) {
    throw new KeyturnError('ERR_CONFIG', 'unsupported database URL: use postgres://… or a SQLite file path');
  }
  const file = db ? db.replace(/^sqlite:/, '') : join(dataDir, 'keyturn.db');
  return new SqliteStore({ filename: file === ':memory:' ? file : resolve(file), synchronous: options.sqliteSynchronous ?? 'normal' });
}
