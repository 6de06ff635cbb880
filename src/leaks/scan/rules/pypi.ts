import type { RuleSpec } from '../types.js';

/**
 * PyPI API tokens: `pypi-` + a base64url macaroon whose first bytes name its location, so every
 * pypi.org token starts `pypi-AgEIcHlwaS5vcmc` (test.pypi.org: `pypi-AgENdGVzdC5weXBpLm9yZw`).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'pypi-token',
    kind: 'pypi',
    description: 'PyPI API token',
    keywords: ['pypi-AgE'],
    pattern: '(?<![A-Za-z0-9_-])(pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,1000})(?![A-Za-z0-9_-])',
    priority: 10,
  },
];
