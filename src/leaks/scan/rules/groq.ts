import type { RuleSpec } from '../types.js';

/**
 * Groq API keys: `gsk_` + 52 base62.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'groq-api-key',
    kind: 'groq',
    description: 'Groq API key',
    keywords: ['gsk_'],
    pattern: '(?<![A-Za-z0-9_-])(gsk_[A-Za-z0-9]{52})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
