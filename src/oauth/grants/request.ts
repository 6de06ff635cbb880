import { KeyturnError } from '../../core/errors.js';
import { SCOPE_TOKEN } from '../../core/scopes.js';
import type { Client, GrantType } from '../clients.js';

/**
 * RFC 6749 §3.3: space-delimited scope tokens, duplicates dropped; `undefined` when absent.
 *
 * @example
 * ```ts
 * parseScope('read  write read'); // ['read', 'write']
 * ```
 */
export function parseScope(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const scopes = value.split(' ').filter((s) => s.length > 0);
  if (scopes.some((s) => !SCOPE_TOKEN.test(s)) || scopes.length > 64) {
    throw new KeyturnError('ERR_INVALID_SCOPE', 'scope: space-separated scope tokens (RFC 6749 section 3.3)');
  }
  return [...new Set(scopes)];
}

/**
 * Scopes to grant: the requested ones when all are within `allowed`, or all of `allowed` when
 * none were requested. Anything outside `allowed` is `invalid_scope`.
 */
export function grantScopes(requested: string[] | undefined, allowed: readonly string[]): string[] {
  if (requested === undefined) return [...allowed];
  const outside = requested.filter((s) => !allowed.includes(s));
  if (outside.length > 0) throw new KeyturnError('ERR_INVALID_SCOPE', `scope not allowed: ${outside.slice(0, 5).join(' ')}`);
  return requested;
}

/**
 * The audience of the token: the `resource` (RFC 8707, an absolute URI without fragment) or
 * `audience` (RFC 8693) when given — it must be one of the client's — else the client's first.
 */
export function resolveAudience(form: Readonly<Record<string, string>>, client: Pick<Client, 'audiences'>): string {
  if (form.resource !== undefined && form.audience !== undefined && form.resource !== form.audience) {
    throw new KeyturnError('ERR_INVALID_TARGET', 'give resource or audience, not two different ones');
  }
  const wanted = form.resource ?? form.audience;
  if (form.resource !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(form.resource);
    } catch {
      url = undefined;
    }
    if (!url || form.resource.includes('#')) throw new KeyturnError('ERR_INVALID_TARGET', 'resource must be an absolute URI without a fragment');
  }
  if (wanted === undefined) return client.audiences[0]!;
  if (!client.audiences.includes(wanted)) throw new KeyturnError('ERR_INVALID_TARGET', 'this client may not request tokens for that audience');
  return wanted;
}

/** The client must be allowed `grantType`, else `unauthorized_client`. */
export function requireGrantType(client: Pick<Client, 'grantTypes'>, grantType: GrantType): void {
  if (!client.grantTypes.includes(grantType)) throw new KeyturnError('ERR_UNAUTHORIZED_CLIENT', `this client may not use grant type ${grantType}`);
}
