import type { RuleSpec } from '../types.js';

/**
 * Telegram bot tokens: the bot id (8–10 digits), `:`, then 35 characters starting `AA`.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'telegram-bot-token',
    kind: 'telegram',
    description: 'Telegram bot token',
    keywords: [':AA'],
    pattern: '(?<![0-9])([0-9]{8,10}:AA[A-Za-z0-9_-]{33})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
