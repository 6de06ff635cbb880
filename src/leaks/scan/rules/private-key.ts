import type { RuleSpec } from '../types.js';

/**
 * PEM private keys of every kind: PKCS#1 `RSA`, SEC1 `EC`, `DSA`, PKCS#8 (plain and
 * `ENCRYPTED`), `OPENSSH`, PGP private key blocks. The body may span lines, YAML blocks,
 * concatenated string literals or JSON strings with `\n` escapes; the validator requires a
 * real base64 body, so `-----BEGIN PRIVATE KEY-----...` placeholders are not findings.
 * Public keys and certificates never match.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'private-key',
    kind: 'private-key',
    description: 'PEM-encoded private key',
    keywords: ['PRIVATE KEY'],
    pattern:
      '-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----([\\s\\S]{16,20000}?)-----END \\1PRIVATE KEY(?: BLOCK)?-----',
    secretGroup: 2,
    locate: 'match',
    validate: 'private-key',
    priority: 5,
  },
];
