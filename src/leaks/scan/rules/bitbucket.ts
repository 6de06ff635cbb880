import type { RuleSpec } from '../types.js';

/**
 * Bitbucket app passwords: `ATBB` + 32 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'bitbucket-app-password',
    kind: 'bitbucket',
    description: 'Bitbucket app password',
    keywords: ['ATBB'],
    pattern: '(?<![A-Za-z0-9_-])(ATBB[A-Za-z0-9_=.-]{32})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
