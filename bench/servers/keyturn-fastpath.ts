/**
 * Experiment (`npm run bench -- --only http --fast-path`): keyturn from `dist/`, unchanged, but with
 * `POST /v1/keys/verify` answered by a plain node:http listener placed in front of fastify, calling
 * the same `kt.keys.verify`. Measures what the route would cost without fastify's per-request work
 * (request id, child logger, content-type parser, hooks). Not how keyturn runs; a suggestion's proof.
 * Prints `{"port":N}` once listening. Args: `<data dir>`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '../../dist');
const load = async <T>(path: string) => (await import(pathToFileURL(join(dist, path)).href)) as T;
const { loadConfig } = await load<typeof import('../../src/config/load.js')>('config/load.js');
const { createLogger } = await load<typeof import('../../src/runtime/logger.js')>('runtime/logger.js');
const { startServer } = await load<typeof import('../../src/runtime/serve.js')>('runtime/serve.js');
const { FAILURE_CODES } = await load<typeof import('../../src/http/routes/verify.js')>('http/routes/verify.js');

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: keyturn-fastpath.ts <data dir>');
const config = loadConfig({ flags: { dataDir, port: 0, logLevel: 'silent' } });
const running = await startServer(config, { logger: createLogger('silent') });
const server = running.app.server;
const [fastify] = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
if (!fastify) throw new Error('no fastify request listener');
server.removeAllListeners('request');

const LIMIT = 65_536;
let requests = 0;

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function fastVerify(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  let size = 0;
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    size += chunk.length;
    if (size > LIMIT) req.destroy();
    else body += chunk;
  });
  req.on('end', () => {
    let key: unknown;
    try {
      key = (JSON.parse(body) as { key?: unknown }).key;
    } catch {
      return answer(res, 400, { error: 'invalid_request', error_description: 'request body is not valid JSON', code: 'ERR_MALFORMED_BODY' });
    }
    if (typeof key !== 'string') return answer(res, 400, { error: 'invalid_request', error_description: 'body must be {"key": "<api key>"}', code: 'ERR_VALIDATION' });
    running.kt.keys
      .verify(key, { actor: null, sourceIp: req.socket.remoteAddress ?? null, requestId: `req_fast${++requests}` })
      .then(
        (result) =>
          answer(
            res,
            200,
            result.valid
              ? { valid: true, keyId: result.key.id, principal: result.key.principal, scopes: result.key.scopes, expiresAt: result.key.expiresAt }
              : { valid: false, code: FAILURE_CODES[result.reason] },
          ),
        () => answer(res, 503, { error: 'temporarily_unavailable', error_description: 'the server could not complete the request' }),
      );
  });
}

server.on('request', (req: IncomingMessage, res: ServerResponse) => {
  if (req.method === 'POST' && req.url === '/v1/keys/verify' && (req.headers['content-type'] ?? '').startsWith('application/json')) fastVerify(req, res);
  else fastify.call(server, req, res);
});
process.stdout.write(`${JSON.stringify({ url: running.url })}\n`);
process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
