/**
 * What an `Authorization` header holds, for a Bearer-protected resource. One parser for every
 * Bearer-protected place — the admin API (`src/http/auth.ts`) and the verifier library — so they
 * agree on what another scheme (`Basic …`), odd spacing or case is.
 */
export type BearerCredentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'token'; readonly token: string };

/** Longest `Authorization` header looked at; a keyturn key is far shorter. */
const MAX_HEADER = 4096;

/** RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Reads `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme is case-insensitive per
 * RFC 9110 §11.1, and one or more spaces separate it from the token).
 *
 * - no header, or another scheme (e.g. `Basic`): `none` — no Bearer credentials; the resource answers 401
 *   without an error code (RFC 6750 §3.1: an unsupported authentication method);
 * - `Bearer` with a missing or ill-formed token: `malformed` (the verifier answers 400 `invalid_request`,
 *   the admin API 401 `invalid_token`);
 * - otherwise the token.
 *
 * Never echoes the header in an error.
 *
 * @example
 * ```ts
 * readBearer('Bearer kt_live_abc'); // { kind: 'token', token: 'kt_live_abc' }
 * readBearer('Basic dXNlcjpwYXNz'); // { kind: 'none' }
 * readBearer('Bearer a b');         // { kind: 'malformed' }
 * ```
 */
export function readBearer(header: string | readonly string[] | undefined): BearerCredentials {
  if (header === undefined) return { kind: 'none' };
  if (typeof header !== 'string') return header.length === 0 ? { kind: 'none' } : { kind: 'malformed' };
  const value = header.trim();
  if (value.length === 0) return { kind: 'none' };
  const space = value.indexOf(' ');
  const scheme = space === -1 ? value : value.slice(0, space);
  if (scheme.length !== 6 || scheme.toLowerCase() !== 'bearer') return { kind: 'none' };
  if (space === -1 || value.length > MAX_HEADER) return { kind: 'malformed' };
  let start = space;
  while (value.charCodeAt(start) === 0x20) start++;
  const token = value.slice(start);
  if (!B64TOKEN.test(token)) return { kind: 'malformed' };
  return { kind: 'token', token };
}
