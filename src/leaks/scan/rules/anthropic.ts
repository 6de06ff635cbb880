import type { RuleSpec } from '../types.js';

/**
 * Anthropic API keys `sk-ant-api03-` and Admin API keys `sk-ant-admin01-`: 93 characters of
 * `[A-Za-z0-9_-]` then the fixed tail `AA`.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'anthropic-api-key',
    kind: 'anthropic',
    description: 'Anthropic API key',
    keywords: ['sk-ant-api'],
    pattern: '(?<![A-Za-z0-9_-])(sk-ant-api\\d{2}-[A-Za-z0-9_-]{93}AA)(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'anthropic-admin-key',
    kind: 'anthropic',
    description: 'Anthropic Admin API key',
    keywords: ['sk-ant-admin'],
    pattern: '(?<![A-Za-z0-9_-])(sk-ant-admin\\d{2}-[A-Za-z0-9_-]{93}AA)(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
