import type { RuleSpec } from '../types.js';

/** Not part of a longer word of letters, digits, `_` or `-`. */
const ALONE_BEFORE = '(?<![A-Za-z0-9_-])';
const ALONE_AFTER = '(?![A-Za-z0-9_-])';
/** What may stand between the two halves of a pair: their names, quotes, a line break or two (at most 200 characters). */
const GAP = '[\\s\\S]{1,200}?';
/** An account SID: `AC` and 32 hex digits (Twilio's published pattern `^AC[0-9a-fA-F]{32}$`). */
const ACCOUNT_SID = 'AC[0-9a-fA-F]{32}';
/** An API key SID: `SK` and 32 hex digits. */
const API_KEY_SID = 'SK[0-9a-fA-F]{32}';
/** An auth token: 32 lower-case hex digits, no prefix. */
const AUTH_TOKEN = `${ALONE_BEFORE}([0-9a-f]{32})${ALONE_AFTER}`;
/**
 * An API key's secret: 32 letters and digits, no prefix; random ones mix both cases and digits.
 * The classes are checked behind the value once it has matched (a check ahead would run at the
 * start of every word of the file).
 */
const API_KEY_SECRET = `${ALONE_BEFORE}([A-Za-z0-9]{32})${ALONE_AFTER}(?<=[a-z][A-Za-z0-9]{0,31})(?<=[A-Z][A-Za-z0-9]{0,31})(?<=[0-9][A-Za-z0-9]{0,31})`;

/**
 * A secret beside the SID it pairs with, after it or before it. The regex starts at the SID's
 * two-letter literal, which the engine finds quickly; a secret before the SID is captured in a
 * look-behind, so no regex runs from every word of the file.
 */
function besideSid(sid: string, secret: string): string {
  const letters = sid.slice(0, 2);
  return `${letters}(?<![A-Za-z0-9_-]${letters})${sid.slice(2)}${ALONE_AFTER}(?:${GAP}${secret}|(?<=${secret}${GAP}${sid}))`;
}

/**
 * Twilio authenticates with a pair: an account SID (`AC` + 32 hex) with the account's auth token
 * (32 hex), or an API key SID (`SK` + 32 hex) with the key's secret (32 letters and digits). The
 * SIDs are identifiers; the tokens and secrets have no prefix and are recognised next to their
 * name or next to the SID they go with, in files that name Twilio (`AC`/`SK` alone are too
 * frequent a literal to trigger a rule). Either way the value's own name, if it has one, must
 * not say digest or identifier (`TWILIO_TOKEN_SHA`, `checksum`, `request_id`: the
 * `provider-value` check), so a 32-hex hash beside a SID is not reported.
 * Written from the provider's published token formats.
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
    validate: 'provider-value',
    priority: 10,
  },
  {
    id: 'twilio-auth-token-pair',
    kind: 'twilio',
    description: 'Twilio auth token beside its account SID',
    keywords: ['twilio'],
    pattern: besideSid(ACCOUNT_SID, AUTH_TOKEN),
    entropy: 3.0,
    validate: 'provider-value',
    priority: 10,
  },
  {
    id: 'twilio-api-key-secret-pair',
    kind: 'twilio',
    description: 'Twilio API key secret beside its API key SID',
    keywords: ['twilio'],
    pattern: besideSid(API_KEY_SID, API_KEY_SECRET),
    entropy: 4.0,
    validate: 'provider-value',
    priority: 10,
  },
];
