import type { RuleSpec } from '../types.js';

/**
 * EasyPost production (`EZAK`) and test (`EZTK`) API keys: + 54 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'easypost-api-key',
    kind: 'easypost',
    description: 'EasyPost API key',
    keywords: ['EZAK', 'EZTK'],
    pattern: '\\b(EZ[AT]K[a-zA-Z0-9]{54})\\b',
    entropy: 3.5,
    priority: 10,
  },
];
