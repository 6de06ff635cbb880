import type { RuleSpec } from '../types.js';

/**
 * Shippo API tokens: `shippo_live_` / `shippo_test_` + 40 hex.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'shippo-api-token',
    kind: 'shippo',
    description: 'Shippo API token',
    keywords: ['shippo_'],
    pattern: '(?<![A-Za-z0-9_-])(shippo_(?:live|test)_[a-f0-9]{40})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
