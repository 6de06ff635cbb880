import type { RuleSpec } from '../types.js';

/**
 * Mapbox secret access tokens: `sk.` + a base64url JSON payload (checked to decode) + `.` + the
 * signature. Public `pk.` tokens are not secrets.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'mapbox-secret-token',
    kind: 'mapbox',
    description: 'Mapbox secret access token (payload checked)',
    keywords: ['sk.eyJ'],
    pattern: '(?<![A-Za-z0-9_.-])(sk\\.eyJ[A-Za-z0-9_-]{10,400}\\.[A-Za-z0-9_-]{20,100})(?![A-Za-z0-9_.-])',
    validate: 'embedded-json',
    priority: 10,
  },
];
