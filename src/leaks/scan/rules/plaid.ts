import type { RuleSpec } from '../types.js';

/**
 * Plaid access tokens: `access-` + environment (`sandbox`, `development`, `production`) + `-` + a
 * UUID.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'plaid-access-token',
    kind: 'plaid',
    description: 'Plaid access token',
    keywords: ['access-sandbox-', 'access-development-', 'access-production-'],
    pattern: '(?<![A-Za-z0-9_-])(access-(?:sandbox|development|production)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
