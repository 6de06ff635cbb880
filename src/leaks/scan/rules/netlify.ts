import type { RuleSpec } from '../types.js';

/**
 * Netlify personal access tokens `nfp_` + 36 base62, and older tokens (40–46 characters) next to
 * a Netlify name.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'netlify-token',
    kind: 'netlify',
    description: 'Netlify personal access token',
    keywords: ['nfp_'],
    pattern: '(?<![A-Za-z0-9_-])(nfp_[A-Za-z0-9]{36})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'netlify-named-token',
    kind: 'netlify',
    description: 'Netlify token next to its name',
    keywords: ['netlify'],
    pattern: '(?:netlify)[\\w.-]{0,30}?(?:(?:auth[_.-]?)?(?:token|key|secret))(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([A-Za-z0-9_-]{40,46})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.5,
    validate: 'provider-value',
    priority: 10,
  },
];
