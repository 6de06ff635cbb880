import type { RuleSpec } from '../types.js';

/**
 * Contentful personal access tokens: `CFPAT-` + 43 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'contentful-pat',
    kind: 'contentful',
    description: 'Contentful personal access token',
    keywords: ['CFPAT-'],
    pattern: '(?<![A-Za-z0-9_-])(CFPAT-[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
