import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkKeyBinding, normalizeDn, relayedSessionCnf, sessionCnf } from '../../src/binding/index.js';
import { authMethods, authorizationServerMetadata } from '../../src/oauth/index.js';
import { makeDevCerts } from '../../src/runtime/dev-certs.js';
import { checkTlsConfirmation } from '../../src/verifier/index.js';

const channel = (protocol: string, exported: Uint8Array | undefined, der?: Uint8Array) => ({
  protocol,
  peerCertificate: () => der,
  peerVerified: () => der !== undefined,
  exportKeyingMaterial: () => exported,
});

describe('TLS binding, pure parts', () => {
  it('compares distinguished names in RFC 4514 order and in certificate order alike', () => {
    expect(normalizeDn('CN=client, O=Example')).toBe(normalizeDn('O=Example\nCN=client'));
    expect(normalizeDn('cn=client,o=Example')).toBe(normalizeDn('CN=client,O=Example'));
    expect(normalizeDn('CN=client,O=Other')).not.toBe(normalizeDn('CN=client,O=Example'));
  });

  it('binds a session only on TLS 1.3 and only when the client saw the same exporter value', () => {
    const material = new Uint8Array(32).fill(7);
    const digest = createHash('sha256').update(material).digest('base64url');
    expect(sessionCnf(channel('TLSv1.3', material), digest)).toEqual({ cnf: { 'tls_exporter#S256': digest } });
    expect(sessionCnf(channel('TLSv1.3', material), 'A'.repeat(43))).toEqual({ failure: 'middlebox' });
    expect(sessionCnf(channel('TLSv1.2', material), 'x')).toEqual({ failure: 'tls_version' });
    expect(sessionCnf(undefined, 'x')).toEqual({ failure: 'not_tls' });
  });

  it('the verifier fails closed on cnf members it does not know, and on a cnf that is not an object', () => {
    const tls = channel('TLSv1.3', new Uint8Array(32));
    expect(checkTlsConfirmation({ jkt: 'abc' }, tls)).toBe('bound');
    expect(checkTlsConfirmation({}, tls)).toBe('cnf');
    expect(checkTlsConfirmation('x', tls)).toBe('cnf');
    expect(checkTlsConfirmation({ 'tls-exp#S256': 'abc' }, tls)).toBe('cnf');
    expect(checkTlsConfirmation({ 'x5t#S256': 42 }, tls)).toBe('cnf');
    expect(checkTlsConfirmation({ 'x5t#S256': 'abc' }, tls)).toBe('certificate');
    expect(checkTlsConfirmation({ 'tls_exporter#S256': 'abc' }, tls)).toBe('tls_session');
    expect(checkTlsConfirmation({ 'tls_exporter#S256': 'abc' }, channel('TLSv1.2', new Uint8Array(32)))).toBe('tls_session');
  });

  it('API key bindings: networks (IPv4, IPv6, mapped) and certificate thumbprints; nothing seen fails', () => {
    const b = { networks: ['10.0.0.0/8', '2001:db8::/32'] };
    expect(checkKeyBinding(b, { address: '10.9.9.9' })).toBeNull();
    expect(checkKeyBinding(b, { address: '::ffff:10.9.9.9' })).toBeNull();
    expect(checkKeyBinding(b, { address: '2001:db8::1' })).toBeNull();
    expect(checkKeyBinding(b, { address: '11.0.0.1' })).toBe('network');
    expect(checkKeyBinding(b, {})).toBe('missing_binding');
    const c = { 'x5t#S256': 'A'.repeat(43) };
    expect(checkKeyBinding(c, { thumbprint: 'A'.repeat(43) })).toBeNull();
    expect(checkKeyBinding(c, { thumbprint: 'B'.repeat(43) })).toBe('wrong_certificate');
    expect(checkKeyBinding(c, {})).toBe('missing_certificate');
    expect(checkKeyBinding(undefined, {})).toBeNull();
  });
});

describe('keyturn dev-certs', () => {
  it('writes keys mode 0600 and never overwrites', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyturn-dev-certs-'));
    try {
      const made = makeDevCerts(join(dir, 'c'), { days: 2 });
      for (const key of ['ca.key', 'server.key', 'client.key'] as const) expect(statSync(made.files[key]).mode & 0o777).toBe(0o600);
      expect(() => makeDevCerts(join(dir, 'c'))).toThrow(/exists; dev-certs never overwrites/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('relayed session digests (a session endpoint’s holder_tls_exporter)', () => {
  it('binds to a well-formed digest; refuses a malformed one and one sent with tls_exporter', () => {
    const digest = 'C'.repeat(43);
    expect(relayedSessionCnf(digest, {})).toEqual({ cnf: { 'tls_exporter#S256': digest } });
    expect(relayedSessionCnf('C'.repeat(42), {})).toEqual({ failure: 'malformed_exporter' });
    expect(relayedSessionCnf(`${'C'.repeat(42)}=`, {})).toEqual({ failure: 'malformed_exporter' });
    expect(relayedSessionCnf(digest, { tls_exporter: digest })).toEqual({ failure: 'malformed_exporter' });
  });
});

describe('discovery features', () => {
  it('names RFC 8705 methods only where client certificates reach keyturn, tls_client_auth only where they are verified', () => {
    const secret = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
    expect(authMethods({ clientCertificates: 'none', dpop: true })).toEqual(secret);
    expect(authMethods({ clientCertificates: 'self-signed', dpop: true })).toEqual([...secret, 'self_signed_tls_client_auth']);
    expect(authMethods({ clientCertificates: 'verified', dpop: true })).toEqual([...secret, 'tls_client_auth', 'self_signed_tls_client_auth']);
    const plain = authorizationServerMetadata('https://as.example', { clientCertificates: 'none', mtlsBase: 'https://as.example:8443', dpop: false });
    expect(Object.keys(plain).filter((k) => /tls|dpop/.test(k))).toEqual([]);
  });
});
