import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Context } from '../core/context.js';
import type { HttpConfig } from '../http/services.js';
import { buildServer, type ServerOptions } from '../http/server.js';
import { bootstrapAdmin } from './bootstrap.js';
import { startHousekeeping } from './housekeeping.js';
import { createLogger } from './logger.js';
import { openKeyturn, type Keyturn } from './open.js';

/** The part of `config` the HTTP edge reads. */
export function httpConfigOf(config: Config): HttpConfig {
  return { bodyLimit: config.http.bodyLimit, trustProxy: config.http.trustProxy, logRequests: config.logging.requests, leakReportRate: config.leaks.reportRate };
}

export interface RunningServer {
  readonly kt: Keyturn;
  readonly app: FastifyInstance;
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Path of the bootstrap admin key when this start created it. */
  readonly adminKeyFile: string | undefined;
  close(): Promise<void>;
}

/**
 * Starts keyturn: opens and migrates the store, bootstraps the admin key on an empty store,
 * and listens. The process-level edge (`keyturn serve`) adds signal handling.
 */
export async function startServer(config: Config, options: { ctx?: Context; logger?: Logger; http?: ServerOptions } = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logging.level);
  const kt = await openKeyturn(config, { logger, ...(options.ctx ? { ctx: options.ctx } : {}) });
  let app: FastifyInstance | undefined;
  try {
    const adminKeyFile = await bootstrapAdmin(kt);
    if (adminKeyFile) logger.info({ file: adminKeyFile }, 'bootstrap admin key written (mode 0600)');
    app = await buildServer(kt.services, httpConfigOf(config), logger, options.http);
    await app.listen({ host: config.server.host, port: config.server.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.server.port;
    const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    kt.setIssuer(url);
    const stopHousekeeping = startHousekeeping(kt, logger);
    kt.leaks.watches.start(config.leaks.watchTick);
    const running = app;
    return {
      kt,
      app: running,
      url,
      adminKeyFile,
      async close() {
        stopHousekeeping();
        await running.close();
        await kt.close();
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await kt.close();
    throw err;
  }
}
