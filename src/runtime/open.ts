import type { Logger } from 'pino';
import { auditMigrations } from '../audit/migrations.js';
import type { Config } from '../config/schema.js';
import { systemContext, type Context } from '../core/context.js';
import { keyMigrations } from '../keys/migrations.js';
import { KeyService } from '../keys/service.js';
import { principalMigrations } from '../principals/migrations.js';
import { PrincipalService } from '../principals/service.js';
import { openStore } from '../store/open.js';
import type { Migration, Store } from '../store/port.js';

/** Every migration, in order. Each capability owns its own; ids are numbered globally. */
export const MIGRATIONS: readonly Migration[] = [...auditMigrations, ...principalMigrations, ...keyMigrations].sort((a, b) =>
  a.id < b.id ? -1 : 1,
);

/** The services of one keyturn process, wired to one store. */
export interface Keyturn {
  readonly config: Config;
  readonly ctx: Context;
  readonly store: Store;
  readonly principals: PrincipalService;
  readonly keys: KeyService;
  close(): Promise<void>;
}

/** Opens the store named in `config`, runs migrations and wires the services. */
export async function openKeyturn(config: Config, options: { ctx?: Context; logger?: Logger } = {}): Promise<Keyturn> {
  const ctx = options.ctx ?? systemContext;
  const logger = options.logger;
  const store = await openStore(config.db, config.dataDir, {
    onFeedError: (err) => logger?.warn({ err }, 'change feed interrupted'),
    sqliteSynchronous: config.sqliteSynchronous,
  });
  try {
    const applied = await store.migrate(MIGRATIONS);
    if (applied.length > 0) logger?.info({ applied }, 'migrations applied');
  } catch (err) {
    await store.close();
    throw err;
  }
  const principals = new PrincipalService(store, ctx);
  const keys = new KeyService({
    store,
    ctx,
    principals,
    prefix: config.keyPrefix,
    cacheMaxEntries: config.cacheMaxEntries,
    cacheMaxAgeMs: config.cacheMaxAge,
  });
  return {
    config,
    ctx,
    store,
    principals,
    keys,
    async close() {
      keys.close();
      await store.close();
    },
  };
}
