import type { RuleSpec } from '../types.js';

/**
 * Prefect API keys: `pnu_` + 36 base62.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'prefect-api-key',
    kind: 'prefect',
    description: 'Prefect API key',
    keywords: ['pnu_'],
    pattern: '(?<![A-Za-z0-9_-])(pnu_[A-Za-z0-9]{36})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
