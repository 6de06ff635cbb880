import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { expect } from 'vitest';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** RFC 6749 §5.2 error codes plus the extensions keyturn answers at OAuth endpoints (RFC 8707, 8693). */
export const OAUTH_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'unsupported_token_type',
] as const;

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TT_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
export const TT_API_KEY = 'urn:keyturn:params:oauth:token-type:api_key';
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A listening keyturn whose clock only moves when the test says so (started at the real time, so real clients agree). */
export interface OAuthServer extends TestServer {
  readonly ctx: ManualContext;
  readonly tokenUrl: string;
  createClient(body: Record<string, unknown>): Promise<RegisteredClient>;
  /** POSTs a form (object or raw string) to an OAuth endpoint. */
  form(path: string, form: Record<string, string> | string, options?: { basic?: readonly [string, string]; headers?: Record<string, string> }): Promise<RawResponse>;
  /** The JWKS exactly as a resource server fetches it. */
  jwks(): Promise<{ keys: JWK[] }>;
  /** Introspects `token` as `as` (client id and secret, client_secret_basic). */
  introspect(token: string, as: RegisteredClient, hint?: string): Promise<Record<string, unknown>>;
}

export interface RegisteredClient {
  readonly id: string;
  readonly secret: string;
  readonly principal: string;
  readonly view: Record<string, unknown>;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: any;
}

export function basic(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

export async function startOAuthServer(overrides: Parameters<typeof startTestServer>[0] = {}, logger?: Parameters<typeof startTestServer>[2]): Promise<OAuthServer> {
  const ctx = manualContext(new Date());
  const kt = await startTestServer(overrides, ctx, logger);
  const server: OAuthServer = {
    ...kt,
    ctx,
    tokenUrl: `${kt.url}/oauth/token`,
    async createClient(body) {
      const res = await kt.api('POST', '/v1/clients', body);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return { id: res.body.client_id, secret: res.body.client_secret, principal: res.body.principal, view: res.body };
    },
    async form(path, form, options = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...options.headers };
      if (options.basic) headers.authorization = basic(options.basic[0], options.basic[1]);
      const res = await fetch(`${kt.url}${path}`, {
        method: 'POST',
        headers,
        body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
      });
      const text = await res.text();
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.status, headers: res.headers, text, body };
    },
    async jwks() {
      const res = await fetch(`${kt.url}/oauth/jwks`);
      expect(res.status).toBe(200);
      return (await res.json()) as { keys: JWK[] };
    },
    async introspect(token, as, hint) {
      const res = await server.form('/oauth/introspect', { token, ...(hint ? { token_type_hint: hint } : {}) }, { basic: [as.id, as.secret] });
      expect(res.status, res.text).toBe(200);
      return res.body as Record<string, unknown>;
    },
  };
  return server;
}

/**
 * Verifies an access token the way a resource server should (RFC 9068 §4): allow-listed
 * asymmetric algorithms, `typ: at+jwt`, our issuer, the expected audience, not expired.
 */
export async function verifyAsResourceServer(
  token: string,
  jwks: { keys: JWK[] },
  options: { issuer: string; audience: string; now: Date },
): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
    algorithms: ['ES256', 'EdDSA'],
    typ: 'at+jwt',
    issuer: options.issuer,
    audience: options.audience,
    currentDate: options.now,
    requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
  });
  return payload;
}

export function header(token: string): ReturnType<typeof decodeProtectedHeader> {
  return decodeProtectedHeader(token);
}

export function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * Checks an OAuth error response per RFC 6749 §5.2: JSON object with `error` (one of the known
 * codes) and `error_description` limited to the §5.2 character set (%x20-21 / %x23-5B / %x5D-7E),
 * `Cache-Control: no-store`, and 401 + `WWW-Authenticate` for `invalid_client` on a request that
 * used the Authorization header.
 */
export function expectOAuthError(res: RawResponse, error: (typeof OAUTH_ERRORS)[number], status?: number): void {
  expect(res.headers.get('content-type') ?? '', res.text).toMatch(/^application\/json/);
  expect(res.body, res.text).toBeTypeOf('object');
  expect(res.body.error, res.text).toBe(error);
  expect(res.body.error_description, res.text).toBeTypeOf('string');
  expect(res.body.error_description, 'error_description charset (RFC 6749 §5.2)').toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]*$/);
  // RFC 6749 §5.2 members; `code` is keyturn's stable error code (clients ignore unknown members).
  for (const key of Object.keys(res.body)) expect(['error', 'error_description', 'error_uri', 'code']).toContain(key);
  expect(res.headers.get('cache-control')).toBe('no-store');
  if (error === 'invalid_client') {
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate') ?? '').toMatch(/^Basic realm="keyturn"/);
  } else {
    expect(res.status, res.text).toBe(status ?? 400);
  }
}
