import type { RuleSpec } from '../types.js';

/**
 * AWS: access key ids are 20 characters, a 4-letter type prefix (`AKIA` long-term, `ASIA`
 * temporary, …) then 16 base32 characters; secret access keys are 40 base64 characters and
 * are only recognisable next to their name. AWS's documented examples are allowed.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'aws-access-key-id',
    kind: 'aws',
    description: 'AWS access key id',
    keywords: ['AKIA', 'ASIA', 'ABIA', 'ACCA'],
    pattern: '\\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Za-z0-9])',
    priority: 10,
    allow: { stopwords: ['EXAMPLE'] },
  },
  {
    id: 'aws-secret-access-key',
    kind: 'aws',
    description: 'AWS secret access key',
    keywords: ['secret_access_key', 'secretaccesskey', 'aws_secret', 'secret-access-key'],
    pattern:
      'secret[_.-]?(?:access)?[_.-]?key(?:_id)?["\']?\\s*(?::=|=>|=|:)\\s*["\']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])',
    flags: 'i',
    entropy: 4.0,
    validate: 'aws-secret',
    priority: 10,
    allow: { stopwords: ['EXAMPLEKEY'] },
  },
];
