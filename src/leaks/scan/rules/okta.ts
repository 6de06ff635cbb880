import type { RuleSpec } from '../types.js';

/**
 * An API token: `00` + 40 base64url characters, alone; a random one mixes both cases and digits
 * after its `00` (checked behind the value once it has matched, not ahead of every word).
 */
const API_TOKEN =
  '(?<![A-Za-z0-9_-])(00[A-Za-z0-9_-]{40})(?![A-Za-z0-9_-])(?<=[a-z][A-Za-z0-9_-]{0,38})(?<=[A-Z][A-Za-z0-9_-]{0,38})(?<=[0-9][A-Za-z0-9_-]{0,38})';
/** An Okta org's domain (`dev-123.okta.com`), which a token is only used with. */
const ORG_DOMAIN = '[A-Za-z0-9-]\\.(?:okta|oktapreview|okta-emea)\\.com';
const GAP = '[\\s\\S]{1,300}?';

/**
 * Okta API tokens: 42 characters starting `00`, no other prefix, recognised next to an Okta name
 * or beside the org domain they are used with (`dev-123.okta.com`, before or after), when the
 * token's own name does not say digest or identifier.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'okta-api-token',
    kind: 'okta',
    description: 'Okta API token next to its name',
    keywords: ['okta'],
    pattern: '(?:okta)[\\w.-]{0,30}?(?:(?:api[_.-]?)?(?:token|key|secret))(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?(00[A-Za-z0-9_-]{40})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.5,
    validate: 'provider-value',
    priority: 10,
  },
  {
    id: 'okta-api-token-with-domain',
    kind: 'okta',
    description: 'Okta API token beside an Okta org domain',
    keywords: ['okta.com', 'oktapreview.com', 'okta-emea.com'],
    // From the domain's literal (quick to find); a token before the domain is captured in a look-behind.
    pattern: `okta(?:preview|-emea)?\\.com(?<=${ORG_DOMAIN})(?![A-Za-z0-9-])(?:${GAP}${API_TOKEN}|(?<=${API_TOKEN}${GAP}${ORG_DOMAIN}))`,
    entropy: 3.5,
    validate: 'provider-value',
    priority: 10,
  },
];
