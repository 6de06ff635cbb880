import type { RuleSpec } from '../types.js';

/**
 * age secret keys: Bech32 with the human-readable part `AGE-SECRET-KEY-`; the Bech32 checksum is
 * verified.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'age-secret-key',
    kind: 'age',
    description: 'age secret key (Bech32 checksum verified)',
    keywords: ['AGE-SECRET-KEY-1'],
    pattern: '(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})(?![A-Za-z0-9])',
    validate: 'bech32',
    priority: 10,
  },
];
