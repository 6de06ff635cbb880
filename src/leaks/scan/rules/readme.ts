import type { RuleSpec } from '../types.js';

/**
 * ReadMe API keys: `rdme_` + 70 lower-case base36.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'readme-api-key',
    kind: 'readme',
    description: 'ReadMe API key',
    keywords: ['rdme_'],
    pattern: '(?<![A-Za-z0-9_-])(rdme_[a-z0-9]{70})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
