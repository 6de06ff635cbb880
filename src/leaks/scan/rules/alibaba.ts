import type { RuleSpec } from '../types.js';

/**
 * Alibaba Cloud AccessKey IDs: `LTAI` + 12–20 base62 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'alibaba-access-key-id',
    kind: 'alibaba',
    description: 'Alibaba Cloud AccessKey ID',
    keywords: ['LTAI'],
    pattern: '\\b(LTAI[A-Za-z0-9]{12,20})\\b',
    entropy: 3.5,
    priority: 10,
  },
];
