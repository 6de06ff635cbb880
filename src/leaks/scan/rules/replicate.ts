import type { RuleSpec } from '../types.js';

/**
 * Replicate API tokens: `r8_` + 37 base62.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'replicate-api-token',
    kind: 'replicate',
    description: 'Replicate API token',
    keywords: ['r8_'],
    pattern: '(?<![A-Za-z0-9_])(r8_[A-Za-z0-9]{37})(?![A-Za-z0-9_])',
    entropy: 3.5,
    priority: 10,
  },
];
