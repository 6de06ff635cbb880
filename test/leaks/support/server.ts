import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigFlags } from '../../../src/config/schema.js';
import type { Context } from '../../../src/core/context.js';
import { freshStore, type StoreHandle, type StoreKind } from '../../support/stores.js';
import { startTestServer, type TestServer } from '../../support/server.js';

/** One request a {@link Receiver} got. */
export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A real node:http server on loopback that records what it receives (webhooks, GitHub keys). */
export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** What to answer: status and body; `hang` never answers (timeouts). */
  respond: (req: Received) => { status: number; body?: string; hang?: boolean };
  close(): Promise<void>;
}

export async function startReceiver(respond: Receiver['respond'] = () => ({ status: 204 })): Promise<Receiver> {
  const received: Received[] = [];
  const hanging = new Set<() => void>();
  let server: Server;
  const receiver: Receiver = {
    url: '',
    received,
    respond,
    async close() {
      for (const end of hanging) end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(got);
      const answer = receiver.respond(got);
      if (answer.hang) {
        hanging.add(() => res.destroy());
        return;
      }
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (receiver as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}

/** A real keyturn on `kind` (PostgreSQL: a fresh schema), with the handle to drop it. */
export async function startLeakServer(
  kind: StoreKind,
  overrides: ConfigFlags = {},
  ctx?: Context,
): Promise<{ server: TestServer; handle: StoreHandle | undefined; stop(): Promise<void> }> {
  const handle = kind === 'postgres' ? await freshStore('postgres') : undefined;
  const server = await startTestServer({ ...(handle ? { db: handle.db } : {}), ...overrides }, ctx);
  return {
    server,
    handle,
    async stop() {
      await server.stop();
      await handle?.dispose();
    },
  };
}

/** Every row of every table, as text: to check that no secret was stored anywhere. */
export async function dumpDatabase(server: TestServer): Promise<string> {
  const store = server.kt.store;
  const tables =
    store.dialect === 'sqlite'
      ? await store.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      : await store.all<{ name: string }>('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()');
  const parts: string[] = [];
  for (const { name } of tables) parts.push(name, JSON.stringify(await store.all(`SELECT * FROM "${name}"`)));
  return parts.join('\n');
}
