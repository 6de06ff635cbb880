import type { RuleSpec } from '../types.js';

/**
 * Vercel access tokens: 24 base62 characters, no prefix, recognised next to a Vercel name.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'vercel-token',
    kind: 'vercel',
    description: 'Vercel access token next to its name',
    keywords: ['vercel'],
    pattern: '(?:vercel)[\\w.-]{0,30}?(?:(?:api[_.-]?)?(?:token|key|secret))(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([A-Za-z0-9]{24})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.5,
    validate: 'provider-value',
    priority: 10,
  },
];
