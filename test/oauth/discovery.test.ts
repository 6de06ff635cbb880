import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM } from '../../src/audit/events.js';
import type { ConfigFlags } from '../../src/config/schema.js';
import { makeDevCerts, type DevCerts } from '../../src/runtime/dev-certs.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { caFetch } from '../binding/tls-support.js';

/**
 * Discovery (RFC 8414, OpenID discovery) advertises what the deployment really does: RFC 8705
 * members (`tls_client_certificate_bound_access_tokens`, the `tls_client_auth` /
 * `self_signed_tls_client_auth` methods, `mtls_endpoint_aliases`) only when client certificates
 * can reach keyturn, and `dpop_signing_alg_values_supported` only with DPoP on. Each configuration
 * runs a real server; openid-client v6 and oauth4webapi must accept each document.
 */

const SECRET_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
let dir: string;
let certs: DevCerts;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keyturn-discovery-'));
  certs = makeDevCerts(join(dir, 'dev'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  readonly name: string;
  readonly flags: () => ConfigFlags;
  readonly methods: readonly string[];
  readonly bound: boolean;
  readonly aliases: boolean;
  readonly dpop: boolean;
}

const tls = (): ConfigFlags => ({ tlsCert: certs.files['server.pem'], tlsKey: certs.files['server.key'] });
const CASES: readonly Case[] = [
  { name: 'plain HTTP (the default)', flags: () => ({}), methods: SECRET_METHODS, bound: false, aliases: false, dpop: true },
  { name: 'plain HTTP, DPoP off', flags: () => ({ dpop: 'false' }), methods: SECRET_METHODS, bound: false, aliases: false, dpop: false },
  { name: 'plain HTTP with a certificate header but no trusted proxy', flags: () => ({ clientCertHeader: 'client-cert' }), methods: SECRET_METHODS, bound: false, aliases: false, dpop: true },
  {
    name: 'plain HTTP behind a trusted certificate-forwarding proxy',
    flags: () => ({ clientCertHeader: 'client-cert', clientCertProxies: '127.0.0.2' }),
    methods: [...SECRET_METHODS, 'tls_client_auth', 'self_signed_tls_client_auth'],
    bound: true,
    aliases: false,
    dpop: true,
  },
  { name: 'HTTPS without a client CA', flags: tls, methods: [...SECRET_METHODS, 'self_signed_tls_client_auth'], bound: true, aliases: false, dpop: true },
  {
    name: 'HTTPS with a client CA',
    flags: () => ({ ...tls(), tlsClientCa: certs.files['ca.pem'] }),
    methods: [...SECRET_METHODS, 'tls_client_auth', 'self_signed_tls_client_auth'],
    bound: true,
    aliases: false,
    dpop: true,
  },
  {
    name: 'HTTPS with a client CA and an mTLS port, DPoP off',
    flags: () => ({ ...tls(), tlsClientCa: certs.files['ca.pem'], mtlsPort: 0, dpop: 'false' }),
    methods: [...SECRET_METHODS, 'tls_client_auth', 'self_signed_tls_client_auth'],
    bound: true,
    aliases: true,
    dpop: false,
  },
];

describe.each(CASES)('discovery: $name', (c) => {
  let s: TestServer;
  let fetcher: typeof globalThis.fetch;
  beforeAll(async () => {
    s = await startTestServer(c.flags());
    fetcher = s.url.startsWith('https:') ? caFetch(certs) : globalThis.fetch;
  }, 30_000);
  afterAll(async () => {
    await s?.stop();
  });

  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    it(`${path} advertises exactly what this configuration does`, async () => {
      const doc = (await (await fetcher(`${s.url}${path}`)).json()) as Record<string, unknown>;
      expect(doc.issuer).toBe(s.url);
      for (const member of ['token_endpoint_auth_methods_supported', 'introspection_endpoint_auth_methods_supported', 'revocation_endpoint_auth_methods_supported']) {
        expect(doc[member]).toEqual(c.methods);
      }
      expect(doc.tls_client_certificate_bound_access_tokens).toBe(c.bound ? true : undefined);
      if (c.aliases) {
        expect(doc.mtls_endpoint_aliases).toEqual({
          token_endpoint: `${s.mtlsUrl}/oauth/token`,
          introspection_endpoint: `${s.mtlsUrl}/oauth/introspect`,
          revocation_endpoint: `${s.mtlsUrl}/oauth/revoke`,
        });
      } else expect(Object.hasOwn(doc, 'mtls_endpoint_aliases')).toBe(false);
      if (c.dpop) expect(doc.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'EdDSA', 'Ed25519']));
      else expect(Object.hasOwn(doc, 'dpop_signing_alg_values_supported')).toBe(false);
    });
  }

  it('openid-client v6 and oauth4webapi accept the document', async () => {
    const { client: registered, secret } = await s.kt.oauth.clients.create({ name: 'discovering' }, SYSTEM);
    const config = await client.discovery(new URL(s.url), registered.clientId, undefined, client.ClientSecretBasic(secret!), {
      execute: [client.allowInsecureRequests],
      [client.customFetch]: fetcher as never,
    });
    expect(config.serverMetadata().issuer).toBe(s.url);
    expect(config.serverMetadata().tls_client_certificate_bound_access_tokens).toBe(c.bound ? true : undefined);
    const tokens = await client.clientCredentialsGrant(config, {});
    expect(tokens.token_type).toBe('bearer');

    const issuer = new URL(s.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true, [oauth.customFetch]: fetcher as never }));
    expect(as.issuer).toBe(s.url);
    expect(as.dpop_signing_alg_values_supported === undefined).toBe(!c.dpop);
  });
});

describe('DPoP off', () => {
  it('a token request with a DPoP proof is refused, and a policy requiring dpop cannot issue', async () => {
    const s = await startTestServer({ dpop: 'false' });
    try {
      const { client: c, secret } = await s.kt.oauth.clients.create({ name: 'dpop-off' }, SYSTEM);
      const res = await fetch(`${s.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${c.clientId}:${secret}`).toString('base64')}`, dpop: 'e30.e30.e30' },
        body: 'grant_type=client_credentials',
      });
      expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([400, 'invalid_dpop_proof']);
      expect((await s.api('POST', '/v1/policies', { name: 'needs-dpop', from: 'default', binding: 'dpop' })).status).toBe(201);
      const bound = await s.kt.oauth.clients.create({ name: 'needs-dpop', policy: 'needs-dpop' }, SYSTEM);
      const refused = await fetch(`${s.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${bound.client.clientId}:${bound.secret}`).toString('base64')}` },
        body: 'grant_type=client_credentials',
      });
      expect([refused.status, ((await refused.json()) as { error: string }).error]).toEqual([400, 'invalid_dpop_proof']);
    } finally {
      await s.stop();
    }
  });
});
