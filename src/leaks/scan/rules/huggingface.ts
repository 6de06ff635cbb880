import type { RuleSpec } from '../types.js';

/**
 * Hugging Face user access tokens `hf_` + 34 letters, and organisation API tokens `api_org_` + 34
 * letters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'huggingface-token',
    kind: 'huggingface',
    description: 'Hugging Face user access token',
    keywords: ['hf_'],
    pattern: '(?<![A-Za-z0-9_])(hf_[A-Za-z]{34})(?![A-Za-z0-9_])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'huggingface-org-token',
    kind: 'huggingface',
    description: 'Hugging Face organisation API token',
    keywords: ['api_org_'],
    pattern: '(?<![A-Za-z0-9_])(api_org_[A-Za-z]{34})(?![A-Za-z0-9_])',
    entropy: 3.5,
    priority: 10,
  },
];
