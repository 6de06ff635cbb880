import type { RuleSpec } from '../types.js';

/**
 * Scalingo API tokens: `tk-us-` + 48 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'scalingo-api-token',
    kind: 'scalingo',
    description: 'Scalingo API token',
    keywords: ['tk-us-'],
    pattern: '(?<![A-Za-z0-9_-])(tk-us-[A-Za-z0-9_-]{48})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
