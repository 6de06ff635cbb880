import type { RuleSpec } from '../types.js';

/** A string type between a name and `=`: Go `name string = …`, TypeScript/Kotlin/Swift `name: string = …`. */
const TYPED = '(?:[ \\t]*:[ \\t]*(?:string|String|str)|[ \\t]+string)?';

/**
 * Fastly API tokens: 32 characters of `[A-Za-z0-9_-]`, no prefix, recognised next to a Fastly
 * name, also in a typed declaration (`const fastlyKey string = "…"`), unless the name says digest
 * or identifier.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'fastly-api-token',
    kind: 'fastly',
    description: 'Fastly API token next to its name',
    keywords: ['fastly'],
    pattern:
      '(?:fastly)[\\w.-]{0,30}?(?:(?:api[_.-]?)?(?:token|key|secret))(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?' +
      TYPED +
      '[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([A-Za-z0-9_-]{32})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.5,
    validate: 'provider-value',
    priority: 10,
  },
];
