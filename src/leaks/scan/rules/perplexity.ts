import type { RuleSpec } from '../types.js';

/**
 * Perplexity API keys: `pplx-` + 48 base62.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'perplexity-api-key',
    kind: 'perplexity',
    description: 'Perplexity API key',
    keywords: ['pplx-'],
    pattern: '(?<![A-Za-z0-9_-])(pplx-[A-Za-z0-9]{48})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
