import { describe, expect, it } from 'vitest';
import { readBearer } from '../../src/verifier/index.js';

describe('readBearer (RFC 6750 §2.1)', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer   abc', 'abc'],
    ['Bearer kt_live_0aZ-._~+/==', 'kt_live_0aZ-._~+/=='],
  ])('%j → token', (header, token) => {
    expect(readBearer(header)).toEqual({ kind: 'token', token });
  });

  it.each([[undefined], [''], ['   '], ['Basic dXNlcjpwYXNz'], ['Bearerabc'], ['Token abc']])('%j → none (no Bearer credentials)', (header) => {
    expect(readBearer(header)).toEqual({ kind: 'none' });
  });

  it.each([['Bearer'], ['Bearer '], ['Bearer a b'], ['Bearer a=b'], ['Bearer "abc"'], ['Bearer ab\u00e9'], [`Bearer ${'a'.repeat(5000)}`]])(
    '%j → malformed',
    (header) => {
      expect(readBearer(header)).toEqual({ kind: 'malformed' });
    },
  );
});
