import type { RuleSpec } from '../types.js';

/**
 * RubyGems API keys: `rubygems_` + 48 hex.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'rubygems-api-key',
    kind: 'rubygems',
    description: 'RubyGems API key',
    keywords: ['rubygems_'],
    pattern: '(?<![A-Za-z0-9_-])(rubygems_[0-9a-f]{48})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
