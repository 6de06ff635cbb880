import type { RuleSpec } from '../types.js';

/**
 * Assignments of a value to a name that says it is secret (`password`, `secret`, `api_key`,
 * `token`, …) in code, configuration, `.env`, YAML or JSON. The value must clear an entropy
 * floor and mix character classes; references (`${VAR}`, `process.env.X`, calls), hashes,
 * UUIDs and shapes owned by provider rules are not findings. Lowest priority: a provider rule
 * matching the same text wins.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'generic-secret-assignment',
    kind: 'generic',
    description: 'Secret-looking value assigned to a password, secret, API key or token name',
    keywords: ['password', 'passwd', 'pwd', 'secret', 'api_key', 'apikey', 'api-key', 'token', 'access_key', 'auth_key'],
    pattern:
      '(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|auth[_-]?key|token)s?(?:[_.-][A-Za-z0-9]+)*["\']?[ \\t]*(?::=|=>|=|:)[ \\t]*(?:"([^"\\s]{8,200})"|\'([^\'\\s]{8,200})\'|([^\\s"\'`,;(){}<>\\[\\]]{8,200})(?=[\\s,;]|$))',
    flags: 'i',
    entropy: 3.3,
    validate: 'generic',
    priority: 100,
  },
];
