import type { RuleSpec } from '../types.js';

/**
 * Pulumi access tokens: `pul-` + 40 hex.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'pulumi-access-token',
    kind: 'pulumi',
    description: 'Pulumi access token',
    keywords: ['pul-'],
    pattern: '(?<![A-Za-z0-9_-])(pul-[a-f0-9]{40})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
