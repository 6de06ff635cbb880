import { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { envName, flagName, SETTING_NAMES, settingSchema } from '../config/schema.js';
import type { Logger } from 'pino';
import type { Io } from './run.js';

/** After the drain deadline, how long closing the store and the jobs may take before the process exits anyway. */
const EXIT_GRACE_MS = 5_000;

/**
 * `keyturn serve`: one flag per configuration setting, described by the schema itself. Runs until
 * SIGTERM or SIGINT, then shuts down within a bound: change streams end at once, in-flight
 * requests get `shutdownTimeout`, the store closes; a second signal, or a shutdown that overruns
 * the bound, ends the process at once.
 *
 * @example
 * ```sh
 * keyturn serve --data-dir /var/lib/keyturn --port 8443 --log-format json
 * ```
 */
export function serveCommand(io: Io): Command {
  const serve = new Command('serve')
    .description('start the keyturn server (SQLite under ./.keyturn by default)')
    .option('--config <file>', 'JSON configuration file (env KEYTURN_CONFIG)');
  for (const name of SETTING_NAMES) {
    serve.option(`${flagName(name)} <value>`, `${settingSchema(name).description ?? name} (env ${envName(name)})`);
  }
  serve.action(async (opts: Record<string, string | undefined> & { config?: string }) => {
    const { config: file, ...flags } = opts;
    const config = loadConfig({ file, env: io.env, flags });
    // Loaded only to serve: client commands start without the server's modules.
    const [{ startServer }, { announcer }] = await Promise.all([import('../runtime/serve.js'), import('../runtime/logger.js')]);
    const server = await startServer(config);
    const announce = announcer(server.app.log as Logger);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const stop = (received: NodeJS.Signals) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve(received);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    const bound = config.server.shutdownTimeout + EXIT_GRACE_MS;
    announce.info({ signal, boundMs: bound }, `${signal}: shutting down (at most ${Math.ceil(bound / 1000)} s)`);
    const now = (code: number, why: string) => {
      io.err(`keyturn: ${why}; exiting now`);
      process.exit(code);
    };
    const again = (received: NodeJS.Signals) => now(130, `${received} again`);
    process.once('SIGINT', again);
    process.once('SIGTERM', again);
    // Anything left holding the event loop (a stuck job, a socket) must not keep the process alive.
    setTimeout(() => now(1, `shutdown did not finish within ${Math.ceil(bound / 1000)} s`), bound).unref();
    await server.close();
    process.off('SIGINT', again);
    process.off('SIGTERM', again);
    announce.info('keyturn stopped');
  });
  return serve;
}
