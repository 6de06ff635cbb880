import type { RuleSpec } from '../types.js';

/**
 * Google: Cloud / Maps / Firebase API keys (`AIza` then 35 characters of `[0-9A-Za-z_-]`), OAuth
 * client secrets (`GOCSPX-` + 28) and OAuth access tokens (`ya29.`). Service-account JSON files
 * are found by their `private_key` (the private-key rule reads PEM bodies in JSON strings).
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'google-api-key',
    kind: 'google',
    description: 'Google API key',
    keywords: ['AIza'],
    pattern: '(?<![A-Za-z0-9_-])(AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'google-oauth-client-secret',
    kind: 'google',
    description: 'Google OAuth client secret',
    keywords: ['GOCSPX-'],
    pattern: '(?<![A-Za-z0-9_-])(GOCSPX-[A-Za-z0-9_-]{28})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'google-oauth-access-token',
    kind: 'google',
    description: 'Google OAuth access token',
    keywords: ['ya29.'],
    pattern: '(?<![A-Za-z0-9_.-])(ya29\\.[A-Za-z0-9_-]{30,2000})(?![A-Za-z0-9_.-])',
    entropy: 3.5,
    priority: 10,
  },
];
