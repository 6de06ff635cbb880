import type { RuleSpec } from '../types.js';

/**
 * JSON Web Tokens (JWS compact form): three base64url parts, header and payload JSON objects,
 * a signed `alg`. The jwt.io documentation example is allowed.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'jwt',
    kind: 'jwt',
    description: 'JSON Web Token',
    keywords: ['eyJ'],
    pattern: '(?<![A-Za-z0-9_-])(eyJ[A-Za-z0-9_-]{8,4000}\\.eyJ[A-Za-z0-9_-]{8,8000}\\.[A-Za-z0-9_-]{16,1000})(?![A-Za-z0-9_.-])',
    validate: 'jwt',
    priority: 10,
    allow: { stopwords: ['SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'] },
  },
];
