import type { RuleSpec } from '../types.js';

/**
 * Sourcegraph access tokens: `sgp_` + 40 hex, or `sgp_` + 16 hex instance id + `_` + 40 hex (either case).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'sourcegraph-token',
    kind: 'sourcegraph',
    description: 'Sourcegraph access token',
    keywords: ['sgp_'],
    pattern: '(?<![A-Za-z0-9_-])(sgp_(?:[a-fA-F0-9]{16}_)?[a-fA-F0-9]{40})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
