import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { sourceNetwork } from '../core/network.js';
import { certificateThumbprint, CNF_X5T, type TlsChannel } from '../core/channel.js';

/**
 * Mutual-TLS client authentication and certificate-bound access tokens (RFC 8705): which
 * certificate a client registered, whether the one its connection presented is it, and the
 * `cnf` member that binds a token to it. Pure: the certificate comes from a {@link TlsChannel}.
 */

/** Why a certificate-bound step refused (recorded in `binding.tls_failed` events). */
export const MTLS_FAILURES = ['missing_certificate', 'wrong_certificate', 'unverified_certificate'] as const;
export type MtlsFailure = (typeof MTLS_FAILURES)[number];

const base64urlSha256 = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256 thumbprint (43 characters)');

/**
 * What a `tls_client_auth` client registers (RFC 8705 §2.1.2: exactly one of the subject DN or one
 * SAN entry), or what a `self_signed_tls_client_auth` client registers: the `x5t#S256` thumbprints
 * of its certificates (RFC 8705 §2.2; certificates in `x5c` of its `jwks` count too).
 */
export const tlsClientAuthSchema = z
  .strictObject({
    subjectDn: z.string().min(1).max(1024).optional(),
    sanDns: z.string().min(1).max(253).optional(),
    sanUri: z.string().min(1).max(1024).optional(),
    sanIp: z.string().min(1).max(64).optional(),
    sanEmail: z.string().min(1).max(320).optional(),
    thumbprints: z.array(base64urlSha256).min(1).max(10).optional(),
  })
  .refine((m) => Object.values(m).filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of subjectDn, sanDns, sanUri, sanIp, sanEmail (tls_client_auth) or thumbprints (self_signed_tls_client_auth)',
  });
export type TlsClientAuthMetadata = z.output<typeof tlsClientAuthSchema>;

/**
 * A distinguished name as a sorted list of `type=value` (type lower-case, value trimmed):
 * `CN=client, O=Example` (RFC 4514, most specific first) and node's `O=Example\nCN=client`
 * (certificate order) compare equal. Multi-valued RDNs and escaped commas are compared as written.
 */
export function normalizeDn(dn: string): string {
  return dn
    .split(/(?<!\\)[,\n]/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq < 0 ? part : `${part.slice(0, eq).trim().toLowerCase()}=${part.slice(eq + 1).trim()}`;
    })
    .sort()
    .join(',');
}

/** The SAN entries of a certificate by kind (`DNS`, `URI`, `IP Address`, `email`). */
function subjectAltNames(cert: X509Certificate): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const entry of (cert.subjectAltName ?? '').split(/,\s*/)) {
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const kind = entry.slice(0, colon);
    const value = entry.slice(colon + 1).replace(/^"|"$/g, '');
    out.set(kind, [...(out.get(kind) ?? []), value]);
  }
  return out;
}

/** The thumbprints a `self_signed_tls_client_auth` client registered, directly or as `x5c` certificates of its JWKS. */
export function registeredThumbprints(meta: TlsClientAuthMetadata | null, jwks: { keys: Record<string, unknown>[] } | null): string[] {
  const out = [...(meta?.thumbprints ?? [])];
  for (const key of jwks?.keys ?? []) {
    const x5c = key.x5c;
    if (Array.isArray(x5c) && typeof x5c[0] === 'string') out.push(certificateThumbprint(Buffer.from(x5c[0], 'base64')));
  }
  return out;
}

/**
 * Whether the connection's certificate authenticates a client registered with `meta`:
 * `tls_client_auth` wants a certificate that chains to the configured client CA and whose subject
 * DN or SAN entry equals the registered one; `self_signed_tls_client_auth` wants one of the
 * registered thumbprints (the chain is not checked: the certificate is the key). Returns the
 * failure, or `null` when it matches.
 */
export function checkClientCertificate(
  method: 'tls_client_auth' | 'self_signed_tls_client_auth',
  channel: TlsChannel | undefined,
  meta: TlsClientAuthMetadata | null,
  jwks: { keys: Record<string, unknown>[] } | null,
): MtlsFailure | null {
  const der = channel?.peerCertificate();
  if (der === undefined) return 'missing_certificate';
  if (method === 'self_signed_tls_client_auth') {
    return registeredThumbprints(meta, jwks).includes(certificateThumbprint(der)) ? null : 'wrong_certificate';
  }
  if (!channel!.peerVerified()) return 'unverified_certificate';
  if (meta === null) return 'wrong_certificate';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return 'wrong_certificate';
  }
  if (meta.subjectDn !== undefined) return normalizeDn(cert.subject) === normalizeDn(meta.subjectDn) ? null : 'wrong_certificate';
  const sans = subjectAltNames(cert);
  const wanted: Array<[string, string | undefined, boolean]> = [
    ['DNS', meta.sanDns, true],
    ['URI', meta.sanUri, false],
    ['IP Address', meta.sanIp, true],
    ['email', meta.sanEmail, true],
  ];
  for (const [kind, value, caseless] of wanted) {
    if (value === undefined) continue;
    const have = sans.get(kind) ?? [];
    // IP addresses compare as addresses (`::1` is node's `0:0:0:0:0:0:0:1`).
    const norm = (v: string) => (kind === 'IP Address' ? sourceNetwork(v, 128) : caseless ? v.toLowerCase() : v);
    return have.some((v) => norm(v) === norm(value)) ? null : 'wrong_certificate';
  }
  return 'wrong_certificate';
}

/** `cnf` of a certificate-bound token (RFC 8705 §3.1), or `undefined` when the connection presented no certificate. */
export function certificateCnf(channel: TlsChannel | undefined): Record<string, string> | undefined {
  const der = channel?.peerCertificate();
  return der === undefined ? undefined : { [CNF_X5T]: certificateThumbprint(der) };
}
