import { z } from 'zod';

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * One scope token as API keys and OAuth clients are registered with (RFC 6749 §3.3).
 *
 * @example
 * ```ts
 * const create = z.strictObject({ scopes: z.array(scopeSchema).max(64).default([]) });
 * ```
 */
export const scopeSchema = z.string().min(1).max(128).regex(SCOPE_TOKEN, 'invalid scope token');
