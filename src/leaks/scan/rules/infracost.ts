import type { RuleSpec } from '../types.js';

/**
 * Infracost API keys: `ico-` + 32 base62.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'infracost-api-key',
    kind: 'infracost',
    description: 'Infracost API key',
    keywords: ['ico-'],
    pattern: '(?<![A-Za-z0-9_.-])(ico-[A-Za-z0-9]{32})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
