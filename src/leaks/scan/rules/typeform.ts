import type { RuleSpec } from '../types.js';

/**
 * Typeform personal access tokens: `tfp_` + 40–64 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'typeform-pat',
    kind: 'typeform',
    description: 'Typeform personal access token',
    keywords: ['tfp_'],
    pattern: '(?<![A-Za-z0-9_-])(tfp_[A-Za-z0-9_.=-]{40,64})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
