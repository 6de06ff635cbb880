import type { RuleSpec } from '../types.js';

/**
 * Twilio API key SIDs (`SK` + 32 lower-case hex), whose secret is only usable with the SID, and
 * auth tokens next to their name. `SK` is too frequent a literal to trigger a rule (most files
 * hold "task" or "disk"), so both rules run in files that name Twilio.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'twilio-api-key',
    kind: 'twilio',
    description: 'Twilio API key SID',
    keywords: ['twilio'],
    pattern: '(SK(?<![A-Za-z0-9_]SK)[0-9a-f]{32})(?![A-Za-z0-9_])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'twilio-auth-token',
    kind: 'twilio',
    description: 'Twilio auth token next to its name',
    keywords: ['twilio'],
    pattern: '(?:twilio)[\\w.-]{0,30}?(?:(?:auth[_.-]?)?token)(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([0-9a-f]{32})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.0,
    priority: 10,
  },
];
