/**
 * (c) A node:http hello-world guarded by the verifier middleware, loaded from the compiled
 * `dist/verifier` (the package export `keyturn/verifier`). `KEYTURN_URL` points at keyturn,
 * `KEYTURN_API_KEY` is a key with scope `verify` for the change stream.
 * Prints `{"port":N}` once listening and the change stream is open.
 */
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type VerifierModule = typeof import('../../src/verifier/index.js');

const dist = join(dirname(fileURLToPath(import.meta.url)), '../../dist/verifier/index.js');
const { createVerifier, withKeyturn } = (await import(pathToFileURL(dist).href)) as VerifierModule;

const url = process.env.KEYTURN_URL;
if (!url) throw new Error('KEYTURN_URL is required');
// `KEYTURN_API_KEY` (scope `verify`) opens the change stream, as a production API server would.
const apiKey = process.env.KEYTURN_API_KEY;
const verifier = createVerifier({ url, requiredScopes: ['read'], ...(apiKey ? { apiKey } : {}) });
const body = Buffer.from('hello world');
const server = http.createServer(
  withKeyturn(verifier, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  }),
);
const deadline = Date.now() + 10_000;
while (verifier.stats().stream !== 'open' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0, stream: verifier.stats().stream })}\n`);
});
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ stats: verifier.stats() })}\n`);
  void verifier.close();
  server.close(() => process.exit(0));
});
