import type { RuleSpec } from '../types.js';

/**
 * Okta API tokens: 42 characters starting `00`, no other prefix, recognised next to an Okta name.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'okta-api-token',
    kind: 'okta',
    description: 'Okta API token next to its name',
    keywords: ['okta'],
    pattern: '(?:okta)[\\w.-]{0,30}?(?:(?:api[_.-]?)?(?:token|key|secret))(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?(00[A-Za-z0-9_-]{40})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.5,
    priority: 10,
  },
];
