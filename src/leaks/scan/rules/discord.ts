import type { RuleSpec } from '../types.js';

/**
 * Discord: bot tokens (the bot's user id in base64, a timestamp, an HMAC: the first part is
 * checked to decode to a numeric id) and webhook URLs
 * (`discord.com/api/webhooks/<id>/<68-character token>`).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'discord-bot-token',
    kind: 'discord',
    description: 'Discord bot token (id part checked)',
    keywords: ['discord'],
    pattern: '(?<![A-Za-z0-9_-])([MNO][A-Za-z0-9_-]{23,27}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,38})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    validate: 'discord-bot',
    priority: 10,
  },
  {
    id: 'discord-webhook',
    kind: 'discord',
    description: 'Discord webhook URL',
    keywords: ['discord.com/api/webhooks', 'discordapp.com/api/webhooks'],
    pattern: '(https://(?:ptb\\.|canary\\.)?discord(?:app)?\\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,68})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
