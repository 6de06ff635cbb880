/**
 * What the sinks send in OCSF is valid against the OCSF schema for every event type keyturn
 * records: each catalog type, through the canonical record of a stored event, validated against
 * the classes extracted from github.com/ocsf/ocsf-schema (test/vectors/ocsf/schema.json, its
 * source and commit recorded there). A detection finding carries its own severity.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENT_CATALOG } from '../../src/audit/catalog.js';
import type { AuditEvent } from '../../src/audit/events.js';
import { toOcsf } from '../../src/audit/formats/ocsf.js';
import { canonicalOf } from '../../src/audit/sinks/canonical.js';
import { PRODUCT } from '../../src/runtime/open.js';

interface SchemaAttribute {
  readonly requirement: string;
  readonly type: string;
  readonly isArray?: boolean;
  readonly profile?: string;
}
interface Schema {
  readonly scalarTypes: Record<string, string>;
  readonly classes: Record<string, { attributes: Record<string, SchemaAttribute> }>;
  readonly objects: Record<string, { attributes: Record<string, SchemaAttribute>; atLeastOne?: string[] }>;
}
const schema = JSON.parse(readFileSync(new URL('../vectors/ocsf/schema.json', import.meta.url), 'utf8')) as Schema;

/** Missing required attributes, unknown ones, wrong types (the same checks as the formats test). */
function problems(value: Record<string, unknown>, attributes: Record<string, SchemaAttribute>, path: string, atLeastOne?: string[]): string[] {
  const out: string[] = [];
  for (const [name, attr] of Object.entries(attributes)) if (attr.requirement === 'required' && attr.profile === undefined && !(name in value)) out.push(`${path}${name}: required`);
  if (atLeastOne !== undefined && !atLeastOne.some((n) => n in value)) out.push(`${path}: needs one of ${atLeastOne.join(', ')}`);
  for (const [name, v] of Object.entries(value)) {
    const attr = attributes[name];
    if (attr === undefined || attr.profile !== undefined) {
      out.push(`${path}${name}: not an attribute of the class`);
      continue;
    }
    for (const item of attr.isArray === true ? (Array.isArray(v) ? v : [Symbol('not an array')]) : [v]) {
      const scalar = schema.scalarTypes[attr.type];
      if (scalar === undefined) {
        if (attr.type === 'object') continue;
        const object = schema.objects[attr.type];
        if (object === undefined || typeof item !== 'object' || item === null) out.push(`${path}${name}: not a ${attr.type}`);
        else out.push(...problems(item as Record<string, unknown>, object.attributes, `${path}${name}.`, object.atLeastOne));
      } else {
        const ok =
          scalar === 'string_t' ? typeof item === 'string' : scalar === 'integer_t' || scalar === 'long_t' ? Number.isSafeInteger(item) : scalar === 'boolean_t' ? typeof item === 'boolean' : scalar === 'float_t' ? typeof item === 'number' : true;
        if (!ok) out.push(`${path}${name}: not ${attr.type}`);
      }
    }
  }
  return out;
}

const stored = (type: string, over: Partial<AuditEvent> = {}): AuditEvent => ({
  seq: 42,
  id: 'evt_0VctSW4cWwLrpHIQBplLUJ',
  time: '2026-12-05T03:04:05.678Z',
  type: type as AuditEvent['type'],
  actor: 'prn_admin',
  target: 'key_1',
  outcome: 'success',
  reason: 'why',
  sourceIp: '192.0.2.7',
  requestId: 'req_1',
  data: { some: 'value' },
  ...over,
});

describe('OCSF output of the sinks', () => {
  it.each(Object.keys(EVENT_CATALOG).map((t) => [t] as const))('%s is valid against its OCSF class', (type) => {
    for (const event of [stored(type), stored(type, { actor: null, target: null, reason: null, sourceIp: null, requestId: null, data: {} })]) {
      const ocsf = toOcsf(canonicalOf(event), PRODUCT);
      const cls = schema.classes[String(ocsf['class_uid'])];
      expect(cls, `class ${String(ocsf['class_uid'])}`).toBeDefined();
      expect(problems(ocsf, cls!.attributes, '')).toEqual([]);
    }
  });

  it('maps each category to its class; a finding takes the severity it carries', () => {
    const classOf = (type: string) => toOcsf(canonicalOf(stored(type)), PRODUCT)['class_uid'];
    expect(['key.verify_failed', 'principal.created', 'key.revoked', 'token.issued', 'detection.finding', 'key.used', 'audit.sink_down'].map(classOf)).toEqual([3002, 3001, 3004, 3002, 2004, 3002, 6003]);
    const critical = toOcsf(canonicalOf(stored('detection.finding', { data: { rule: 'sequence_gap', severity: 'critical', evidence: [], response: 'none' } })), PRODUCT);
    expect(critical).toMatchObject({ class_uid: 2004, severity_id: 5, severity: 'Critical', is_alert: true });
    const low = toOcsf(canonicalOf(stored('detection.finding', { data: { rule: 'new_network', severity: 'low', evidence: [], response: 'none' } })), PRODUCT);
    expect(low).toMatchObject({ severity_id: 2, is_alert: false });
    // A severity in data is honoured only for findings' own values: an unknown one falls back to the catalog.
    expect(toOcsf(canonicalOf(stored('detection.finding', { data: { severity: 'apocalyptic' } })), PRODUCT)['severity_id']).toBe(3);
  });
});
