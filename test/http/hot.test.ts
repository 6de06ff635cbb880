import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { systemContext } from '../../src/core/context.js';
import { generateSecret } from '../../src/core/secret.js';
import type { TokenRequest } from '../../src/oauth/token-endpoint.js';
import { HOT_LOG_SAMPLE } from '../../src/http/hot/log.js';
import { createLogger } from '../../src/runtime/logger.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';

/** A keyturn with request logging on, its log lines kept, behind a trusted proxy. */
async function start(flags: Record<string, unknown>): Promise<{ server: RunningServer; admin: string; logs: Record<string, any>[]; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-hot-'));
  const logs: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const server = await startServer(loadConfig({ flags: { dataDir: dir, port: 0, logLevel: 'info', ...flags } }), { logger: createLogger('info', sink) });
  return { server, admin: readFileSync(join(dir, 'admin.key'), 'utf8').trim(), logs, dir };
}

describe('hot endpoints behind a trusted proxy', () => {
  let s: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    s = await start({ trustProxy: 'loopback', logRequests: true });
  });
  afterAll(async () => {
    await s.server.close();
    rmSync(s.dir, { recursive: true, force: true });
  });

  const events = async (type: string) =>
    ((await (await fetch(`${s.server.url}/v1/events?type=${type}`, { headers: { authorization: `Bearer ${s.admin}` } })).json()) as { items: any[] }).items;

  it.each([
    ['one proxy', '203.0.113.7'],
    ['two hops', '198.51.100.1, 203.0.113.7'],
  ])('give the source address fastify gives, through both paths (%s)', async (_label, forwarded) => {
    const headers = { 'content-type': 'application/json', 'x-forwarded-for': forwarded };
    const body = JSON.stringify({ key: 'kt_live_notakey' });
    const fast = await fetch(`${s.server.url}/v1/keys/verify`, { method: 'POST', headers, body });
    expect(await fast.json()).toEqual({ valid: false, code: 'ERR_SECRET_FORMAT' });
    // Another reason, so the failure is not summarised with the one before (failures are aggregated).
    const routed = await s.server.app.inject({ method: 'POST', url: '/v1/keys/verify', headers, payload: JSON.stringify({ key: generateSecret('kt_live', systemContext) }) });
    expect(routed.json()).toEqual({ valid: false, code: 'ERR_KEY_UNKNOWN' });
    // An admin route is fastify's alone: its request.ip is the reference.
    const admin = await fetch(`${s.server.url}/v1/keys`, { headers: { 'x-forwarded-for': forwarded, authorization: 'Bearer kt_live_notakey' } });
    expect(admin.status).toBe(401);

    // Events come in log order: the newest last.
    const [viaFast, viaRoute] = (await events('key.verify_failed')).slice(-2);
    const reference = (await events('admin.auth_failed')).at(-1);
    // The right-most address the trusted proxy (loopback) did not vouch for: what the proxy saw.
    expect(reference.sourceIp).toBe(forwarded.split(',').at(-1)!.trim());
    expect(viaFast.sourceIp).toBe(reference.sourceIp);
    expect(viaRoute.sourceIp).toBe(reference.sourceIp);
    // One request id generator for every request: same per-process stem.
    const stem = (id: string) => id.split('.')[0];
    expect(stem(viaFast.requestId)).toBe(stem(reference.requestId));
    expect(viaFast.requestId).not.toBe(viaRoute.requestId);
  });
});

describe('request logging of the hot endpoints', () => {
  let s: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    s = await start({ trustProxy: 'loopback', logRequests: true });
  });
  afterAll(async () => {
    await s.server.close();
    rmSync(s.dir, { recursive: true, force: true });
  });

  it('are answered by the fast path, its request lines sampled and counted', async () => {
    const verify = () =>
      fetch(`${s.server.url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' }, body: '{"key":"x"}' });
    await (await verify()).text();
    for (let i = 0; i < HOT_LOG_SAMPLE; i++) await (await verify()).text();
    const lines = s.logs.filter((l) => l.req?.url === '/v1/keys/verify');
    // fastify would log "incoming request" too; the fast path logs one sampled line.
    expect(lines.every((l) => l.msg === 'request completed' && l.sampled === HOT_LOG_SAMPLE)).toBe(true);
    // The first request, then one line for the next HOT_LOG_SAMPLE, counting them.
    expect(lines.map((l) => l.count)).toEqual([1, HOT_LOG_SAMPLE]);
    expect(lines[0]).toMatchObject({ res: { statusCode: 200 }, req: { method: 'POST', remoteAddress: '203.0.113.9' } });
    expect(typeof lines[0]!.requestId).toBe('string');
  });
});

describe('the token endpoint over TLS', () => {
  let s: Awaited<ReturnType<typeof start>>;
  let tls: TlsServer;
  let certs: string;
  const seen: TokenRequest[] = [];
  let basic: string;

  beforeAll(async () => {
    s = await start({});
    certs = mkdtempSync(join(tmpdir(), 'keyturn-certs-'));
    for (const name of ['server', 'client']) {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
        '-keyout', join(certs, `${name}.key`), '-out', join(certs, `${name}.pem`)], { stdio: 'ignore' });
    }
    // TLS terminated in this process, connections handed to keyturn's HTTP server as they are.
    tls = createTlsServer({ key: readFileSync(join(certs, 'server.key')), cert: readFileSync(join(certs, 'server.pem')), requestCert: true, rejectUnauthorized: false }, (socket) =>
      s.server.app.server.emit('connection', socket),
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const endpoint = s.server.kt.oauth.tokenEndpoint;
    const handle = endpoint.handle.bind(endpoint);
    endpoint.handle = async (request) => {
      seen.push(request);
      return handle(request);
    };
    const created = await (await fetch(`${s.server.url}/v1/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'svc', scopes: ['read'] }),
    })).json() as { client_id: string; client_secret: string };
    basic = `Basic ${Buffer.from(`${created.client_id}:${created.client_secret}`).toString('base64')}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => tls.close(resolve));
    await s.server.close();
    rmSync(s.dir, { recursive: true, force: true });
    rmSync(certs, { recursive: true, force: true });
  });

  it('hands the endpoint the raw DPoP header and the TLS channel: protocol, peer certificate, exporter', async () => {
    const { port } = tls.address() as AddressInfo;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1', port, path: '/oauth/token', method: 'POST', rejectUnauthorized: false,
          key: readFileSync(join(certs, 'client.key')), cert: readFileSync(join(certs, 'client.pem')),
          headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', dpop: 'not.a.proof' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end('grant_type=client_credentials');
    });
    // The proof itself is refused (invalid_dpop_proof); what matters here is what the endpoint was handed.
    expect(status).toBe(400);
    const request = seen.at(-1)!;
    expect(request.dpop).toBe('not.a.proof');
    expect(request.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
    const der = request.tls!.peerCertificate()!;
    expect(new X509Certificate(Buffer.from(der)).subject).toBe('CN=client');
    const exported = request.tls!.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding');
    expect(exported).toHaveLength(32);
    expect(request.tls!.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding')).toBe(exported);
  });

  it('hands plain HTTP requests no TLS channel', async () => {
    const res = await fetch(`${s.server.url}/oauth/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect(res.status).toBe(200);
    expect(seen.at(-1)!.tls).toBeUndefined();
    expect(seen.at(-1)!.dpop).toBeUndefined();
  });
});
