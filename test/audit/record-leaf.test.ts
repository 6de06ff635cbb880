/**
 * The Merkle leaf of a record is written directly (fixed member order, no canonical record built):
 * it must stay byte for byte the RFC 8785 canonical JSON of the stored fields, as it was defined —
 * `canonicalJson` of the canonical record without its derived severity and category — or every
 * stored leaf and signed checkpoint would stop verifying.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toCanonical } from '../../src/audit/canonical.js';
import type { AuditEvent } from '../../src/audit/events.js';
import { canonicalJson } from '../../src/audit/formats/record.js';
import { logRecordBytes, recordLeaf } from '../../src/audit/log.js';

/** The definition: the canonical record's stored fields, through the general canonicalisation. */
function definedText(event: AuditEvent): string {
  const { severity: _severity, category: _category, ...record } = toCanonical(event);
  return canonicalJson(record);
}

const base: AuditEvent = {
  seq: 42,
  id: 'evt_01JEXAMPLE',
  time: '2026-12-05T08:00:00.000Z',
  type: 'token.issued',
  actor: 'prn_1',
  target: 'cli_1',
  outcome: 'success',
  reason: null,
  sourceIp: '192.0.2.7',
  requestId: 'req-1',
  data: { grantType: 'client_credentials', jti: 'atk_1', grant: null, scopes: ['read', 'write'], audience: 'https://api.example.com' },
};

const cases: Array<[string, AuditEvent]> = [
  ['a token issuance', base],
  ['nulls everywhere', { ...base, actor: null, target: null, sourceIp: null, requestId: null, reason: null, data: {} }],
  ['text that needs escaping and non-ASCII', { ...base, reason: 'quote " backslash \\ newline \n tab \t nul \u0000', target: 'naïve ☃ 𝄞 \u2028', actor: '</script>' }],
  ['data with nested members in any order, numbers, booleans', { ...base, data: { z: 1, a: { y: [3, 2.5, -0, 1e21], b: true, a: null }, 'é': 'x', A: 'upper', '': 'empty' } }],
  ['a failure with a reason', { ...base, type: 'client.auth_failed', outcome: 'failure', reason: 'invalid secret', data: {} }],
  ['a type unknown to this release', { ...base, type: 'future.thing' as AuditEvent['type'], data: { severity: 'high' } }],
  ['a large seq', { ...base, seq: Number.MAX_SAFE_INTEGER }],
  ['data members left undefined', { ...base, data: { kept: 1, dropped: undefined } }],
  ['a hand-made record with a missing field', { ...base, reason: undefined as unknown as null }],
  ['a hand-made record with a seq read as text', { ...base, seq: '42' as unknown as number }],
];

describe('the Merkle leaf of a record', () => {
  it.each(cases)('%s: the bytes are the canonical JSON of the stored fields', (_name, event) => {
    const text = definedText(event);
    expect(Buffer.from(logRecordBytes(event)).toString('utf8')).toBe(text);
    expect(logRecordBytes(event)).toEqual(new TextEncoder().encode(text));
    const expected = createHash('sha256').update(Uint8Array.of(0)).update(Buffer.from(text, 'utf8')).digest();
    expect(Buffer.from(recordLeaf(event)).toString('hex')).toBe(expected.toString('hex'));
  });

  it('a record JSON cannot hold is refused as before', () => {
    expect(() => logRecordBytes({ ...base, seq: Number.NaN })).toThrow(/non-finite/);
    expect(() => logRecordBytes({ ...base, data: { n: Number.POSITIVE_INFINITY } })).toThrow(/non-finite/);
  });
});
