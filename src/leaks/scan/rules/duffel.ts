import type { RuleSpec } from '../types.js';

/**
 * Duffel API tokens: `duffel_test_` / `duffel_live_` + 43 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'duffel-api-token',
    kind: 'duffel',
    description: 'Duffel API token',
    keywords: ['duffel_'],
    pattern: '(?<![A-Za-z0-9_-])(duffel_(?:test|live)_[A-Za-z0-9_=-]{43})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
