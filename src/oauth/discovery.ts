import { ASSERTION_ALGS } from './client-auth.js';
import { GRANT_TYPES } from './clients.js';
import { SIGNING_ALGS } from '../signing/index.js';
import { DPOP_ALGORITHMS } from '../binding/index.js';

/** Endpoint paths, relative to the issuer. */
export const OAUTH_PATHS = {
  token: '/oauth/token',
  introspection: '/oauth/introspect',
  revocation: '/oauth/revoke',
  jwks: '/oauth/jwks',
} as const;

const SECRET_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/**
 * What this deployment can do, so discovery advertises nothing a client would then be refused:
 *
 * - `clientCertificates`: how client certificates reach keyturn. `none` (plain HTTP and no trusted
 *   certificate-forwarding proxy): no RFC 8705 metadata at all. `self-signed` (HTTPS without
 *   `tlsClientCa`): certificates are requested but nothing verifies their chain, so only
 *   `self_signed_tls_client_auth` (registered thumbprints) authenticates, and certificate-bound
 *   tokens work for such clients. `verified` (HTTPS with `tlsClientCa`, or `clientCertHeader` with
 *   `clientCertProxies`): `tls_client_auth` too.
 * - `mtlsBase`: the base URL of the separate mTLS listener (`mtlsPort`), for `mtls_endpoint_aliases`.
 * - `dpop`: DPoP proofs are accepted at the token endpoint (`oauth.dpop`).
 */
export interface ServerFeatures {
  readonly clientCertificates: 'none' | 'self-signed' | 'verified';
  readonly mtlsBase?: string | undefined;
  readonly dpop: boolean;
}

/** A plain-HTTP server with DPoP (the default configuration without TLS). */
export const PLAIN_HTTP: ServerFeatures = Object.freeze({ clientCertificates: 'none', dpop: true });

/** The client authentication methods `features` make work (RFC 8705 §2 ones only with client certificates). */
export function authMethods(features: ServerFeatures): string[] {
  switch (features.clientCertificates) {
    case 'none':
      return [...SECRET_METHODS];
    case 'self-signed':
      return [...SECRET_METHODS, 'self_signed_tls_client_auth'];
    case 'verified':
      return [...SECRET_METHODS, 'tls_client_auth', 'self_signed_tls_client_auth'];
  }
}

/**
 * RFC 8414 authorization server metadata. keyturn serves machine clients: no authorization
 * endpoint, so no response types (`response_types_supported` is empty). RFC 8705 and RFC 9449
 * members appear only when `features` make them true.
 */
export function authorizationServerMetadata(issuer: string, features: ServerFeatures = PLAIN_HTTP): Record<string, unknown> {
  const methods = authMethods(features);
  return {
    ...mtlsMetadata(features),
    issuer,
    token_endpoint: `${issuer}${OAUTH_PATHS.token}`,
    jwks_uri: `${issuer}${OAUTH_PATHS.jwks}`,
    introspection_endpoint: `${issuer}${OAUTH_PATHS.introspection}`,
    revocation_endpoint: `${issuer}${OAUTH_PATHS.revocation}`,
    grant_types_supported: [...GRANT_TYPES],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: methods,
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    introspection_endpoint_auth_methods_supported: methods,
    introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    revocation_endpoint_auth_methods_supported: methods,
    revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    access_token_signing_alg_values_supported: [...SIGNING_ALGS],
    // RFC 9449 §5.1: the proof algorithms the token endpoint accepts.
    ...(features.dpop ? { dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS] } : {}),
  };
}

/** OpenID Connect discovery with the fields that apply to a server without end users or ID tokens. */
export function openidConfiguration(issuer: string, features: ServerFeatures = PLAIN_HTTP): Record<string, unknown> {
  return { ...authorizationServerMetadata(issuer, features), subject_types_supported: ['public'], claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope'] };
}

/**
 * RFC 8705 §3.3 and §5: certificate-bound tokens, when client certificates reach keyturn at all;
 * with a separate mTLS listener (`mtlsPort`), its endpoints as `mtls_endpoint_aliases`, so a client
 * with a certificate goes there and browsers on the main port are never asked for one.
 */
function mtlsMetadata(features: ServerFeatures): Record<string, unknown> {
  if (features.clientCertificates === 'none') return {};
  const out: Record<string, unknown> = { tls_client_certificate_bound_access_tokens: true };
  if (features.mtlsBase !== undefined) {
    out.mtls_endpoint_aliases = {
      token_endpoint: `${features.mtlsBase}${OAUTH_PATHS.token}`,
      introspection_endpoint: `${features.mtlsBase}${OAUTH_PATHS.introspection}`,
      revocation_endpoint: `${features.mtlsBase}${OAUTH_PATHS.revocation}`,
    };
  }
  return out;
}
