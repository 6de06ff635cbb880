import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Context } from '../core/context.js';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_DIR_MARKER, DATA_DIR_MARKER_TEXT } from '../core/data-dir.js';
import { KeyturnError } from '../core/errors.js';
import type { HttpConfig } from '../http/services.js';
import type { ServerFeatures } from '../oauth/index.js';
import { buildServer, type ServerOptions } from '../http/server.js';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bootstrapAdmin } from './bootstrap.js';
import { tlsListeners } from './tls.js';
import { announcer, createLogger } from './logger.js';
import { openKeyturn, type Keyturn } from './open.js';

/** The part of `config` the HTTP edge reads. */
export function httpConfigOf(config: Config): HttpConfig {
  return {
    bodyLimit: config.http.bodyLimit,
    trustProxy: config.http.trustProxy,
    changeStreamsPerSource: config.http.changeStreamsPerSource,
    changeStreamsMax: config.http.changeStreamsMax,
    logRequests: config.logging.requests,
    leakReportRate: config.leaks.reportRate,
    failedAuthRates: { verify: config.limits.failedVerifyRate, client: config.limits.failedClientAuthRate, admin: config.limits.failedAdminAuthRate },
    failureDelayMs: config.limits.failureDelay,
    clientCert: { header: config.http.clientCertHeader, proxies: config.http.clientCertProxies },
    discovery: { clientCertificates: clientCertificatesOf(config), dpop: config.oauth.dpop },
  };
}

/**
 * How client certificates reach keyturn (what discovery may advertise): verified ones through a
 * client CA or a trusted certificate-forwarding proxy, self-signed ones on any HTTPS listener (it
 * requests certificates), none on plain HTTP.
 */
export function clientCertificatesOf(config: Config): ServerFeatures['clientCertificates'] {
  const proxied = config.http.clientCertHeader !== 'none' && config.http.clientCertProxies.length > 0;
  if (proxied || (config.server.tlsCert !== undefined && config.server.tlsClientCa !== undefined)) return 'verified';
  return config.server.tlsCert !== undefined ? 'self-signed' : 'none';
}

export interface RunningServer {
  readonly kt: Keyturn;
  readonly app: FastifyInstance;
  /** Base URL, e.g. `http://127.0.0.1:8080` (`https://` with `tlsCert`). */
  readonly url: string;
  /** Base URL of the mTLS listener (`mtlsPort`), when there is one. */
  readonly mtlsUrl: string | undefined;
  /** Path of the bootstrap admin key when this start created it. */
  readonly adminKeyFile: string | undefined;
  close(): Promise<void>;
}

/** Marks `dir` as keyturn's (see {@link DATA_DIR_MARKER}): scans and watches never read it. */
function markDataDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const marker = join(dir, DATA_DIR_MARKER);
  if (!existsSync(marker)) writeFileSync(marker, DATA_DIR_MARKER_TEXT, { mode: 0o644 });
}

/** How often a closing server looks for connections that have become idle. */
const SWEEP_MS = 50;

/**
 * Stops listening and waits for in-flight requests, for at most `timeoutMs`: change streams end
 * first (a `preClose` hook of their route), connections that fall idle are closed as they do (a
 * keep-alive connection would otherwise hold the server for its whole idle timeout), and whatever
 * is still open at the deadline is cut.
 */
async function drain(app: FastifyInstance, timeoutMs: number): Promise<void> {
  const server = app.server;
  const sweep = setInterval(() => server.closeIdleConnections(), SWEEP_MS);
  const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
  try {
    await app.close();
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
  }
}

/**
 * Refuses (`ERR_CONFIG`, one line) settings that would let the nodes of a cluster disagree: with a
 * `postgres://` database several processes share one store, so each must be given the same
 * `issuer` (the default is the URL each one listens on) and the same `masterKey` (the default is a
 * key file each one would create for itself, and none could open the others' signing keys).
 */
export function assertClusterSettings(config: Config): void {
  if (!config.store.db || !/^postgres(ql)?:\/\//.test(config.store.db)) return;
  const missing = [
    ...(config.oauth.issuer ? [] : ['issuer (KEYTURN_ISSUER)']),
    ...(config.signing.masterKey ? [] : ['masterKey (KEYTURN_MASTER_KEY)']),
  ];
  if (missing.length > 0) {
    throw new KeyturnError('ERR_CONFIG', `with a postgres:// database, set ${missing.join(' and ')}, the same on every node`);
  }
}

/**
 * Starts keyturn: opens and migrates the store, bootstraps the admin key on an empty store,
 * listens, then starts the background jobs. The process-level edge (`keyturn serve`) adds signal
 * handling. Refuses cluster settings that cannot work (see {@link assertClusterSettings}).
 */
export async function startServer(config: Config, options: { ctx?: Context; logger?: Logger; http?: ServerOptions } = {}): Promise<RunningServer> {
  assertClusterSettings(config);
  const logger = options.logger ?? createLogger(config.logging.level, process.stdout, config.logging.format);
  const announce = announcer(logger);
  const kt = await openKeyturn(config, { logger, ...(options.ctx ? { ctx: options.ctx } : {}) });
  let app: FastifyInstance | undefined;
  let mtls: { server: HttpsServer; port: number } | undefined;
  try {
    markDataDirectory(config.server.dataDir);
    const adminKeyFile = await bootstrapAdmin(kt);
    if (adminKeyFile) announce.info({ file: adminKeyFile }, `bootstrap admin key written to ${adminKeyFile} (mode 0600)`);
    const tls = tlsListeners(config);
    let dispatch: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    let mtlsUrl: string | undefined;
    app = await buildServer(kt.services, { ...httpConfigOf(config), mtlsBaseUrl: () => mtlsUrl }, logger, {
      ...options.http,
      ...(tls ? { https: tls.main } : {}),
      onDispatch: (d) => {
        dispatch = d;
        options.http?.onDispatch?.(d);
      },
    });
    await app.listen({ host: config.server.host, port: config.server.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.server.port;
    const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
    const scheme = tls ? 'https' : 'http';
    const url = `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    if (tls?.mtls !== undefined) {
      mtls = await listenMtls(tls.mtls, dispatch!, config.server.host, config.server.mtlsPort ?? 0);
      mtlsUrl = `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${mtls.port}`;
    }
    kt.setIssuer(url);
    kt.jobs.runner.start();
    const store = config.store.db?.startsWith('postgres') ? 'PostgreSQL' : 'SQLite';
    announce.info({ url, store, ...(mtlsUrl ? { mtlsUrl } : {}) }, `keyturn listening on ${url}${mtlsUrl ? ` and ${mtlsUrl} (mTLS)` : ''} (${store})`);
    const mtlsServer = mtls?.server;
    const running = app;
    let closing: Promise<void> | undefined;
    return {
      kt,
      app: running,
      url,
      mtlsUrl,
      adminKeyFile,
      close() {
        closing ??= (async () => {
          await kt.jobs.runner.stop();
          if (mtlsServer) {
            const closed = new Promise<void>((resolve) => mtlsServer.close(() => resolve()));
            mtlsServer.closeIdleConnections();
            setTimeout(() => mtlsServer.closeAllConnections(), config.server.shutdownTimeout).unref();
            await closed;
          }
          await drain(running, config.server.shutdownTimeout);
          await kt.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    mtls?.server.close();
    await app?.close().catch(() => undefined);
    await kt.close();
    throw err;
  }
}

/**
 * The `mtlsPort` listener: the same handler (fast path, then fastify) on an HTTPS server that asks
 * every client for a certificate (RFC 8705 §5 `mtls_endpoint_aliases`).
 */
async function listenMtls(options: HttpsOptions, dispatch: (req: IncomingMessage, res: ServerResponse) => void, host: string, port: number): Promise<{ server: HttpsServer; port: number }> {
  const server = createHttpsServer(options, dispatch);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : port };
}
