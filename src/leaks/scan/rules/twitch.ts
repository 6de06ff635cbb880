import type { RuleSpec } from '../types.js';

/**
 * Twitch OAuth tokens and client secrets: 30 lower-case base36 characters, no prefix, recognised
 * next to a Twitch name.
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
    priority: 10,
  },
];
