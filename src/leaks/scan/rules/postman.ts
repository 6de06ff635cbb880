import type { RuleSpec } from '../types.js';

/**
 * Postman API keys: `PMAK-` + 24 hex + `-` + 34 hex.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'postman-api-key',
    kind: 'postman',
    description: 'Postman API key',
    keywords: ['PMAK-'],
    pattern: '(?<![A-Za-z0-9_-])(PMAK-[a-f0-9]{24}-[a-f0-9]{34})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
