import type { RuleSpec } from '../types.js';

/**
 * xAI API keys: `xai-` + 80 base62.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'xai-api-key',
    kind: 'xai',
    description: 'xAI API key',
    keywords: ['xai-'],
    pattern: '(?<![A-Za-z0-9_-])(xai-[A-Za-z0-9]{80})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
