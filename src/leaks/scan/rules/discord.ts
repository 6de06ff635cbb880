import type { RuleSpec } from '../types.js';

/**
 * Discord: bot tokens (the bot's user id in base64, a timestamp, an HMAC: the first part is
 * checked to decode to a numeric id) and webhook URLs
 * (`discord.com/api/webhooks/<id>/<68-character token>`), and OAuth2 client secrets: 32
 * characters of the URL-safe base64 alphabet with no prefix of their own, so recognised only
 * where Discord is named — assigned to a Discord secret or token name (`DISCORD_CLIENT_SECRET`,
 * `discordToken`), or to `client_secret` after the Discord word (beside the application's client
 * id, a 17–20 digit snowflake, which is an identifier and never reported) — unless the name says
 * digest or identifier. A value that continues with `.` is a bot token's first part, not this.
 * The entropy floor (2.5 bits) only drops repeated characters: the name already says secret.
 * Written from the provider's published token format.
 */
/** The end of a name (`_KEY`, a closing quote or bracket, a TypeScript `: string`) and the assignment after it. */
const ASSIGNED = '(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?(?:[ \\t]*\\??:[ \\t]*string)?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?';
/** A client secret: 32 URL-safe base64 characters, not the start of a bot token (`.` after). */
const CLIENT_SECRET = '([A-Za-z0-9_-]{32})(?![A-Za-z0-9_-])(?!\\.[A-Za-z0-9_-])';

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
    id: 'discord-client-secret',
    kind: 'discord',
    description: 'Discord OAuth2 client secret next to a Discord name',
    keywords: ['discord'],
    pattern: `discord[\\w.-]{0,30}?(?:secret|token)${ASSIGNED}${CLIENT_SECRET}`,
    flags: 'i',
    entropy: 2.5,
    validate: 'provider-value',
    priority: 20,
  },
  {
    id: 'discord-client-secret-beside-id',
    kind: 'discord',
    description: 'Discord OAuth2 client secret after the Discord word (beside its client id)',
    keywords: ['discord'],
    pattern: `discord[\\s\\S]{1,300}?client[_.-]?secret${ASSIGNED}${CLIENT_SECRET}`,
    flags: 'i',
    entropy: 2.5,
    validate: 'provider-value',
    priority: 20,
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
