import { KeyturnError } from '../core/errors.js';

/**
 * Parses an `application/x-www-form-urlencoded` body. OAuth endpoints must reject a repeated
 * parameter (RFC 6749 §3.1, §3.2): `ERR_DUPLICATE_PARAMETER` names it.
 */
export function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of new URLSearchParams(body)) {
    if (name in out) {
      // RFC 8707 allows several resources; keyturn issues a token for one audience.
      if (name === 'resource' || name === 'audience') throw new KeyturnError('ERR_INVALID_TARGET', `one ${name} per request`);
      throw new KeyturnError('ERR_DUPLICATE_PARAMETER', `parameter "${name.slice(0, 64)}" is repeated`);
    }
    out[name] = value;
  }
  return out;
}
