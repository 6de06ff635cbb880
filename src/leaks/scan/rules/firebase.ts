import type { RuleSpec } from '../types.js';

/**
 * Firebase Cloud Messaging legacy server keys: 11 characters, `:APA91b`, 134 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'fcm-server-key',
    kind: 'firebase',
    description: 'Firebase Cloud Messaging server key',
    keywords: ['APA91b'],
    pattern: '(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{11}:APA91b[A-Za-z0-9_-]{134})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
