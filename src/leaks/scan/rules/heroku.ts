import type { RuleSpec } from '../types.js';

/** A string type between a name and `=`: Go `name string = …`, TypeScript/Kotlin/Swift `name: string = …`. */
const TYPED = '(?:[ \\t]*:[ \\t]*(?:string|String|str)|[ \\t]+string)?';
/** A UUID (8-4-4-4-12 hex digits), the shape of Heroku's legacy API keys. */
const UUID = '([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?![A-Za-z0-9_-])';

/**
 * Heroku platform API keys in the current format: `HRKU-` + 60 characters; legacy keys, which
 * are UUIDs, only where a UUID cannot be an identifier: assigned to a Heroku key, token or secret
 * name (`HEROKU_API_KEY=…`, `herokuToken: "…"`, `<herokuToken>…</herokuToken>`; not
 * `heroku_app_id`, which the `provider-uuid` check drops) or as the password of `api.heroku.com`
 * in a `.netrc`, where the Heroku CLI keeps it.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'heroku-api-key',
    kind: 'heroku',
    description: 'Heroku platform API key',
    keywords: ['HRKU-'],
    pattern: '(?<![A-Za-z0-9_-])(HRKU-[A-Za-z0-9_-]{60})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'heroku-legacy-api-key',
    kind: 'heroku',
    description: 'Heroku legacy API key (a UUID) next to a Heroku key name or in a .netrc',
    keywords: ['heroku'],
    pattern:
      '(?:heroku[\\w.-]{0,30}?(?:(?:api|auth|oauth)[_.-]?)?(?:key|token|secret)(?:[_.-][A-Za-z0-9]+)?' +
      '(?:>\\s{0,40}|["\\\'`]?\\]?' + TYPED + '[ \\t]*(?::{1,3}=|=>|\\?=|\\.=|=|:|,)[ \\t]*["\\\'`]?)' +
      '|machine[ \\t]+(?:api|git)\\.heroku\\.com[ \\t\\r\\n]+login[ \\t]+\\S+[ \\t\\r\\n]+password[ \\t]+)' +
      UUID,
    flags: 'i',
    entropy: 3.0,
    validate: 'provider-uuid',
    priority: 10,
  },
];
