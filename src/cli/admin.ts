import { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Io } from './run.js';

/**
 * `keyturn admin recover`: the way back in when every admin key is suspended, revoked or lost —
 * run on the server's host, with the data directory or database (like Keycloak's
 * `bootstrap-admin` or Vault's `generate-root`). Works while the server runs or is stopped.
 *
 * @example
 * ```sh
 * keyturn admin recover --data-dir /var/lib/keyturn
 * ```
 */
export function adminCommand(io: Io): Command {
  const admin = new Command('admin').description('local administration with direct access to the data directory or database');
  admin
    .command('recover')
    .description('mint a new admin key into <data dir>/admin.key (mode 0600) and record the event; the key is never printed')
    .option('--data-dir <dir>', 'data directory (env KEYTURN_DATA_DIR, default ./.keyturn)')
    .option('--db <url>', 'database: a postgres:// URL or an SQLite file (env KEYTURN_DB, default <data dir>/keyturn.db)')
    .option('--config <file>', 'JSON configuration file (env KEYTURN_CONFIG)')
    .option('--out <file>', 'where to write the key (default <data dir>/admin.key)')
    .action(async (opts: { dataDir?: string; db?: string; config?: string; out?: string }) => {
      const config = loadConfig({ file: opts.config, env: io.env, flags: { dataDir: opts.dataDir, db: opts.db } });
      const { recoverAdmin } = await import('../runtime/recover.js');
      const done = await recoverAdmin(config, opts.out ? { file: opts.out } : {});
      io.out(`new admin key ${done.keyId} written to ${done.file} (mode 0600)${done.previous ? `; the file it replaced is kept as ${done.previous}` : ''}`);
      io.out('Lift the suspension of the old key (keyturn keys unsuspend <id>) or revoke it; the event admin.recovered records this.');
    });
  return admin;
}
