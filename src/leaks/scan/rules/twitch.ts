import type { RuleSpec } from '../types.js';

/**
 * A Twitch value: 30 lower-case letters and digits, alone. A random one holds a digit and a
 * letter past `f` (all but one in ten billion do), which a word, a number or a hex digest does
 * not; both are checked behind the value once it has matched (a check ahead would run at the start
 * of every word of the file).
 */
const VALUE = '(?<![A-Za-z0-9_-])[a-z0-9]{30}(?![A-Za-z0-9_-])(?<=[0-9][a-z0-9]{0,29})(?<=[g-z][a-z0-9]{0,29})';
/** The provider's name, as it is written (the values are lower-case, so the regex is case-sensitive). */
const TWITCH = '(?:twitch|Twitch|TWITCH)';
/** What may stand between a client id and its secret: names, quotes, a line break or two. */
const GAP = '[\\s\\S]{1,200}?';

/**
 * Twitch OAuth tokens, client ids and client secrets: 30 lower-case letters and digits with no
 * prefix. Recognised next to a Twitch name (`TWITCH_CLIENT_SECRET=…`), as the pair an application
 * authenticates with (a client id and its secret, within a few lines of each other, the first
 * within 200 characters after the word Twitch: which of the two is the secret cannot be told from its shape, so both are
 * reported unless one is named as an id), and as a chat (IRC) password, `oauth:` + the token.
 * Names that say digest or identifier (`twitch_client_id`, `*_sha`) are not reported.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'twitch-token',
    kind: 'twitch',
    description: 'Twitch OAuth token or client secret next to its name',
    keywords: ['twitch'],
    pattern: '(?:twitch)[\\w.-]{0,30}?(?:(?:oauth[_.-]?|client[_.-]?|api[_.-]?)?(?:token|secret|key))(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([a-z0-9]{30})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.5,
    validate: 'provider-value',
    priority: 10,
  },
  {
    id: 'twitch-client-credentials-pair',
    kind: 'twitch',
    description: 'Twitch client id or secret beside the other half of the pair',
    keywords: ['twitch'],
    // From the word Twitch (quick to find): a value within 200 characters after it, with the
    // other half of the pair after it or before it.
    pattern: `${TWITCH}${GAP}(${VALUE})(?:(?=${GAP}${VALUE})|(?<=${VALUE}${GAP}[a-z0-9]{30}))`,
    entropy: 3.5,
    validate: 'provider-value',
    priority: 20,
  },
  {
    id: 'twitch-client-credentials-pair-second',
    kind: 'twitch',
    description: 'Twitch client id or secret after the other half of the pair',
    keywords: ['twitch'],
    // The second value of a pair after the word Twitch (the rule above reports the first).
    pattern: `${TWITCH}${GAP}${VALUE}${GAP}(${VALUE})`,
    entropy: 3.5,
    validate: 'provider-value',
    priority: 20,
  },
  {
    id: 'twitch-chat-oauth-token',
    kind: 'twitch',
    description: 'Twitch chat (IRC) password: oauth: and an OAuth token',
    keywords: ['oauth:'],
    pattern: `oauth:(${VALUE})`,
    entropy: 3.5,
    priority: 10,
  },
];
