import type { RuleSpec } from '../types.js';

/** Words that name a secret; the name may carry qualifiers around them (`db_password`, `partnerApiKey`). */
const NAME =
  '(?:password|passwd|pwd|secret|api[_.-]?key|access[_-]?key|auth[_-]?key|private[_-]?key|token)s?(?:[_.-][A-Za-z0-9]+)*';
/** What may close a name: a quote (JSON keys, `getenv("X"`), a bracket (`ENV["X"]`) or a parenthesis (`getenv('X')`); then `?` for an optional property. */
const NAME_END = '["\'`]?\\]?\\)?\\??';
/**
 * A type annotation between the name and `=`: TypeScript `: string`, Python `: str` (also
 * `Final[str]`, `Optional[str]`, `str | None`), Kotlin/Swift `: String`, Rust `: &str`, Go
 * ` string`. The string types are listed rather than any identifier: a free identifier here
 * would make every YAML `token: value` try each of its lengths as a type.
 */
const TYPE =
  "(?:[ \\t]*:[ \\t]*(?:&(?:'static[ \\t]+)?str|(?:Final|Optional)\\[str\\]|str|string|String|any)\\??(?:[ \\t]*\\|[ \\t]*(?:None|undefined|null))?|[ \\t]+string)?";
/**
 * Operators after which any value counts: assignment in code, configuration and Makefiles
 * (`=`, `:=`, `::=`, `?=`, `=>`, `:`, PHP's concatenating `.=`), a shell default (`${X:-value}`), and the value of a
 * Kubernetes or ECS environment entry named by the previous line or key (`name: X` / `value: …`).
 */
const K8S_VALUE = '[ \\t]*\\r?\\n[ \\t]*value[ \\t]*:(?<=name:[ \\t]*["\']?[\\w.-]{1,100}["\']?[ \\t]*\\r?\\n[ \\t]*value[ \\t]*:)';
const ECS_VALUE = ',\\s{0,40}"value"[ \\t]*:(?<="name"[ \\t]*:[ \\t]*"[\\w.-]{1,100}",\\s{0,40}"value"[ \\t]*:)';
const ASSIGN = `(?::-|:{1,3}=|=>|\\?=|\\.=|=|:|${K8S_VALUE}|${ECS_VALUE})`;
/**
 * Operators after which only a quoted literal counts: environment fallbacks
 * (`process.env.X ?? "…"`, `ENV["X"] || "…"`, `getenv('X') ?: '…'`) and a name passed with its
 * value (`os.getenv("X", "…")`, `setProperty("X", "…")`).
 */
const FALLBACK = '(?:\\?\\?=?|\\|\\|=?|\\?:|(?<=["\'])[ \\t]*,)';
/**
 * A value: quoted, or bare up to a space, a separator, the end, or an escaped line break (`\n`
 * written as two characters: an INI or `.env` file held in a JSON string, `"A_TOKEN=…\nB=1"`).
 */
const VALUE_ANY =
  '(?!["\'`]?\\$[{(])(?:"([^"\\s]{8,200})"|\'([^\'\\s]{8,200})\'|`([^`\\s]{8,200})`|([^\\s"\'`,;(){}<>\\[\\]]{8,200})(?=[\\s,;)}\\]]|\\\\[nr]|$))';
/**
 * An XML element named like a secret holding the value alone (`<apiToken>\n  …\n</apiToken>`):
 * the `>` must close a bare tag name (no attributes, so no `class="token">` in HTML), and the
 * value must be followed by a closing tag.
 */
const XML_VALUE = '(?<=<[\\w.:-]{1,100})>[ \\t]*(?:\\r?\\n[ \\t]*)?([^\\s<>"\'&]{8,200})(?=[ \\t]*(?:\\r?\\n[ \\t]*)?</)';
const VALUE_QUOTED = '(?:"([^"\\s]{8,200})"|\'([^\'\\s]{8,200})\'|`([^`\\s]{8,200})`)';

/**
 * Assignments of a value to a name that says it is secret (`password`, `secret`, `api_key`,
 * `token`, …) in code (declarations typed or not, environment fallbacks), configuration,
 * `.env` (also held in a JSON string), YAML, JSON, TOML, XML elements, Makefiles and Kubernetes env entries. The value must clear an
 * entropy floor (checked by the validator: lower for hex) and mix character classes; references (`${VAR}`, `process.env.X`, calls),
 * UUIDs and shapes owned by provider rules are not findings (a value opening with `${` or `$(` is
 * skipped so that the assignment inside it, `${API_KEY:-…}`, is read). A hexadecimal value is a finding
 * only when the name ends with its secret word (`PARTNER_API_KEY`, `appSecret`) and says
 * nothing of a digest (`*_sha`, `checksum`, `integrity`, `etag`, `commit`, …): see the
 * `generic` validator. Lowest priority: a provider rule matching the same text wins.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'generic-secret-assignment',
    kind: 'generic',
    description: 'Secret-looking value assigned to a password, secret, API key or token name',
    keywords: ['password', 'passwd', 'pwd', 'secret', 'api_key', 'apikey', 'api-key', 'api.key', 'token', 'access_key', 'auth_key', 'private_key', 'privatekey'],
    pattern: `${NAME}(?:${XML_VALUE}|${NAME_END}${TYPE}[ \\t]*(?:${ASSIGN}[ \\t]*${VALUE_ANY}|${FALLBACK}[ \\t]*${VALUE_QUOTED}))`,
    flags: 'i',
    validate: 'generic',
    priority: 100,
  },
];
