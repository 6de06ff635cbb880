import type { RuleSpec } from '../types.js';

/**
 * GitHub: classic tokens are `gh[pousr]_` + 30 random base62 characters + the base62 CRC-32 of
 * those 30 characters (6 characters), so a look-alike with a wrong checksum is rejected;
 * fine-grained personal access tokens are `github_pat_` + 22 + `_` + 59 base62 characters.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'github-classic-token',
    kind: 'github',
    description: 'GitHub classic token (personal, OAuth, user-to-server, server-to-server, refresh)',
    keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
    pattern: '\\b(gh[pousr]_[A-Za-z0-9]{36})(?![A-Za-z0-9_])',
    validate: 'github-classic',
    priority: 10,
  },
  {
    id: 'github-fine-grained-pat',
    kind: 'github',
    description: 'GitHub fine-grained personal access token',
    keywords: ['github_pat_'],
    pattern: '\\b(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![A-Za-z0-9_])',
    entropy: 4.0,
    priority: 10,
  },
];
