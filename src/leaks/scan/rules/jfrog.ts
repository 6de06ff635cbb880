import type { RuleSpec } from '../types.js';

/**
 * JFrog Artifactory API keys (`AKCp` + 69 base62) and access/reference tokens (`cmVmdGtu`, base64
 * of "reftkn", + 56 characters).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'jfrog-api-key',
    kind: 'jfrog',
    description: 'JFrog Artifactory API key',
    keywords: ['AKCp'],
    pattern: '\\b(AKCp[A-Za-z0-9]{69})\\b',
    entropy: 4.0,
    priority: 10,
  },
  {
    id: 'jfrog-reference-token',
    kind: 'jfrog',
    description: 'JFrog reference token',
    keywords: ['cmVmdGtu'],
    pattern: '\\b(cmVmdGtu[A-Za-z0-9]{56})\\b',
    entropy: 4.0,
    priority: 10,
  },
];
