import type { RuleSpec } from '../types.js';

/** An AccessKey ID: `LTAI` + 12–20 letters and digits. */
const ACCESS_KEY_ID = 'LTAI[A-Za-z0-9]{12,20}';
/**
 * An AccessKey secret: 30 letters and digits, no prefix; a random one mixes both cases and digits
 * (checked behind the value once it has matched, not ahead of every word).
 */
const ACCESS_KEY_SECRET =
  '(?<![A-Za-z0-9_-])([A-Za-z0-9]{30})(?![A-Za-z0-9_-])(?<=[a-z][A-Za-z0-9]{0,29})(?<=[A-Z][A-Za-z0-9]{0,29})(?<=[0-9][A-Za-z0-9]{0,29})';
const GAP = '[\\s\\S]{1,200}?';

/**
 * Alibaba Cloud AccessKey pairs: the ID (`LTAI` + 12–20 base62 characters) and its secret (30
 * base62 characters with no prefix, recognised beside the ID it goes with, before or after it,
 * when its own name does not say digest or identifier).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'alibaba-access-key-id',
    kind: 'alibaba',
    description: 'Alibaba Cloud AccessKey ID',
    keywords: ['LTAI'],
    pattern: '\\b(LTAI[A-Za-z0-9]{12,20})\\b',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'alibaba-access-key-secret-pair',
    kind: 'alibaba',
    description: 'Alibaba Cloud AccessKey secret beside its AccessKey ID',
    keywords: ['LTAI'],
    // From the ID's literal (quick to find); a secret before the ID is captured in a look-behind.
    pattern: `LTAI(?<![A-Za-z0-9_-]LTAI)[A-Za-z0-9]{12,20}(?![A-Za-z0-9_-])(?:${GAP}${ACCESS_KEY_SECRET}|(?<=${ACCESS_KEY_SECRET}${GAP}${ACCESS_KEY_ID}))`,
    entropy: 4.0,
    validate: 'provider-value',
    priority: 10,
  },
];
