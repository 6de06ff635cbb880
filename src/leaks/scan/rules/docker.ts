import type { RuleSpec } from '../types.js';

/**
 * Docker Hub personal (`dckr_pat_`) and organisation (`dckr_oat_`) access tokens.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'docker-hub-token',
    kind: 'docker',
    description: 'Docker Hub access token',
    keywords: ['dckr_pat_', 'dckr_oat_'],
    pattern: '(?<![A-Za-z0-9_-])(dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,64})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
