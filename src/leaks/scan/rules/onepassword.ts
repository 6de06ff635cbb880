import type { RuleSpec } from '../types.js';

/**
 * 1Password: service account tokens (`ops_` + base64 JSON, checked to decode) and account Secret
 * Keys (`A3-` + six groups).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: '1password-service-account-token',
    kind: '1password',
    description: '1Password service account token (payload checked)',
    keywords: ['ops_eyJ'],
    pattern: '(?<![A-Za-z0-9_])(ops_eyJ[A-Za-z0-9+/_-]{250,5000}={0,3})(?![A-Za-z0-9+/=_-])',
    validate: 'embedded-json',
    priority: 10,
  },
  {
    id: '1password-secret-key',
    kind: '1password',
    description: '1Password account Secret Key',
    keywords: ['A3-'],
    pattern: '\\b(A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})\\b',
    entropy: 3.0,
    priority: 10,
  },
];
