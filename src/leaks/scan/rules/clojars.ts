import type { RuleSpec } from '../types.js';

/**
 * Clojars deploy tokens: `CLOJARS_` + 60 lower-case base36.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'clojars-deploy-token',
    kind: 'clojars',
    description: 'Clojars deploy token',
    keywords: ['CLOJARS_'],
    pattern: '(?<![A-Za-z0-9_-])(CLOJARS_[a-z0-9]{60})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
