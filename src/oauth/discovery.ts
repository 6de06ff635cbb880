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

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'];

/**
 * RFC 8414 authorization server metadata. keyturn serves machine clients: no authorization
 * endpoint, so no response types (`response_types_supported` is empty).
 */
export function authorizationServerMetadata(issuer: string, mtlsBase?: string): Record<string, unknown> {
  return {
    ...mtlsMetadata(mtlsBase),
    issuer,
    token_endpoint: `${issuer}${OAUTH_PATHS.token}`,
    jwks_uri: `${issuer}${OAUTH_PATHS.jwks}`,
    introspection_endpoint: `${issuer}${OAUTH_PATHS.introspection}`,
    revocation_endpoint: `${issuer}${OAUTH_PATHS.revocation}`,
    grant_types_supported: [...GRANT_TYPES],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    access_token_signing_alg_values_supported: [...SIGNING_ALGS],
    // RFC 9449 §5.1: the proof algorithms the token endpoint accepts.
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  };
}

/** OpenID Connect discovery with the fields that apply to a server without end users or ID tokens. */
export function openidConfiguration(issuer: string, mtlsBase?: string): Record<string, unknown> {
  return { ...authorizationServerMetadata(issuer, mtlsBase), subject_types_supported: ['public'], claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope'] };
}

/**
 * RFC 8705 §3.3 and §5: certificate-bound tokens are supported; with a separate mTLS listener
 * (`mtlsPort`), its endpoints as `mtls_endpoint_aliases`, so a client with a certificate goes there
 * and browsers on the main port are never asked for one.
 */
function mtlsMetadata(mtlsBase: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { tls_client_certificate_bound_access_tokens: true };
  if (mtlsBase !== undefined) {
    out.mtls_endpoint_aliases = {
      token_endpoint: `${mtlsBase}${OAUTH_PATHS.token}`,
      introspection_endpoint: `${mtlsBase}${OAUTH_PATHS.introspection}`,
      revocation_endpoint: `${mtlsBase}${OAUTH_PATHS.revocation}`,
    };
  }
  return out;
}
