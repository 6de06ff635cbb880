import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigFlags } from '../../src/config/schema.js';
import type { Context } from '../../src/core/context.js';
import { createLogger } from '../../src/runtime/logger.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  /** The bootstrap admin key. */
  readonly adminKey: string;
  /** Calls the API with the admin key (or `token`); returns status and parsed JSON. */
  api<T = any>(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: T; headers: Headers }>;
  stop(): Promise<void>;
}

/**
 * Starts a real keyturn on a free loopback port with a temporary data dir (SQLite unless
 * `overrides.db` says otherwise).
 */
export async function startTestServer(overrides: ConfigFlags = {}, ctx?: Context): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-test-'));
  const config = loadConfig({ flags: { dataDir, port: 0, logLevel: 'silent', ...overrides } });
  const server = await startServer(config, { logger: createLogger('silent'), ...(ctx ? { ctx } : {}) });
  const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
  return {
    ...server,
    dataDir,
    adminKey,
    async api(method, path, body, token) {
      const headers: Record<string, string> = {};
      const bearer = token === undefined ? adminKey : token;
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
