import type { RuleSpec } from '../types.js';

/**
 * Figma personal access tokens: `figd_` + 40 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'figma-pat',
    kind: 'figma',
    description: 'Figma personal access token',
    keywords: ['figd_'],
    pattern: '(?<![A-Za-z0-9_-])(figd_[A-Za-z0-9_-]{40})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
