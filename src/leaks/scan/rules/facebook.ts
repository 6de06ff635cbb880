import type { RuleSpec } from '../types.js';

/**
 * Meta (Facebook) access tokens: `EAA` + an app letter + 90+ base62 characters; and app access
 * tokens, the pair `<app id>|<app secret>` (the id, 15–16 digits, and the app secret, 32 hex, or
 * the token Graph API returns in its place, 27 base64url characters), which has no prefix and is
 * recognised in a file that names Facebook.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'facebook-access-token',
    kind: 'facebook',
    description: 'Meta / Facebook access token',
    keywords: ['EAA'],
    pattern: '(?<![A-Za-z0-9_-])(EAA[B-Z][A-Za-z0-9]{90,400})(?![A-Za-z0-9_-])',
    entropy: 4.0,
    priority: 10,
  },
  {
    id: 'facebook-app-access-token',
    kind: 'facebook',
    description: 'Meta / Facebook app access token (app id|app secret) in a file that names Facebook',
    keywords: ['facebook'],
    // From the `|` (rarer than a digit, so quick to find); the token, app id included, is captured
    // in a look-behind.
    pattern: '\\|(?:[0-9a-f]{32}|[A-Za-z0-9_-]{27})(?![A-Za-z0-9_-])(?<=(?<![A-Za-z0-9_.-])([0-9]{15,16}\\|(?:[0-9a-f]{32}|[A-Za-z0-9_-]{27})))',
    entropy: 3.5,
    validate: 'provider-value',
    priority: 10,
  },
];
