import type { RuleSpec } from '../types.js';

/**
 * Auth0 client secrets (64 characters of `[A-Za-z0-9_-]`), no prefix, recognised next to an Auth0
 * name.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'auth0-client-secret',
    kind: 'auth0',
    description: 'Auth0 client secret next to its name',
    keywords: ['auth0'],
    pattern: '(?:auth0)[\\w.-]{0,30}?(?:(?:client[_.-]?)?secret|(?:api[_.-]?)?(?:key|token))(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([A-Za-z0-9_-]{64})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 4.0,
    validate: 'provider-value',
    priority: 10,
  },
];
