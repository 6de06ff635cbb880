/**
 * SIEM wire formats: RFC 5424 syslog (checked against the RFC's own §6.5 examples in
 * test/vectors/syslog/rfc5424-examples.json) with RFC 6587 framing, CEF (escaping exactly as the
 * CEF spec states, round-tripped through a strict test-only parser with hostile strings), and
 * OCSF (each class validated against the schema of github.com/ocsf/ocsf-schema, extracted as data
 * into test/vectors/ocsf/schema.json).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CEF_SEVERITY, escapeCefHeader, escapeCefValue, formatCef } from '../../src/audit/formats/cef.js';
import { OCSF_CLASSES, OCSF_VERSION, toOcsf } from '../../src/audit/formats/ocsf.js';
import { canonicalJson, EVENT_CATEGORIES, recordBytes, summaryOf, type CanonicalEvent } from '../../src/audit/formats/record.js';
import { leafHash } from '../../src/audit/merkle.js';
import {
  escapeParamValue,
  formatSyslog,
  formatSyslogFields,
  octetCount,
  SYSLOG_SEVERITY,
  type SyslogFields,
} from '../../src/audit/formats/syslog.js';
import { KeyturnError } from '../../src/core/errors.js';
import { arbEvent, parseCef, parseSyslog, sampleEvent } from './formats-support.js';

const product = { version: '0.1.0' };

describe('syslog (RFC 5424)', () => {
  const rfc = JSON.parse(readFileSync(new URL('../vectors/syslog/rfc5424-examples.json', import.meta.url), 'utf8')) as {
    messages: { desc: string; fields: SyslogFields; wire: string }[];
    timestamps: { valid: string[]; invalid: string[] };
  };

  it.each(rfc.messages.map((m) => [m.desc, m] as const))('reproduces %s byte for byte', (_d, m) => {
    expect(formatSyslogFields(m.fields)).toBe(m.wire);
    const parsed = parseSyslog(m.wire);
    expect(parsed.pri).toBe(m.fields.facility * 8 + m.fields.severity);
    expect(parsed.structuredData).toEqual(m.fields.structuredData.map((e) => ({ id: e.id, params: e.params })));
  });

  it('accepts the timestamps of §6.2.3.1 and rejects the invalid one', () => {
    const base = { facility: 1, severity: 5, structuredData: [] };
    for (const t of rfc.timestamps.valid) expect(formatSyslogFields({ ...base, timestamp: t })).toContain(` ${t} `);
    for (const t of rfc.timestamps.invalid) expect(() => formatSyslogFields({ ...base, timestamp: t })).toThrow(KeyturnError);
  });

  it('escapes exactly ", \\ and ] in PARAM-VALUE (§6.3.3)', () => {
    expect(escapeParamValue('a"b\\c]d[e=f')).toBe('a\\"b\\\\c\\]d[e=f');
    expect(escapeParamValue('plain é 😀\n')).toBe('plain é 😀\n');
  });

  it('writes an event: PRI, VERSION, ms timestamp, app keyturn, MSGID = type, SD, BOM + UTF-8 MSG', () => {
    const line = formatSyslog(sampleEvent, { hostname: 'kt-1.example', procId: '4242' });
    expect(line).toBe(
      '<84>1 2026-12-04T16:05:08.123Z kt-1.example keyturn 4242 key.revoked ' +
        '[keyturn@32473 seq="7" id="evt_01JF3Z8Q2W" type="key.revoked" category="entity_management" severity="medium" ' +
        'outcome="success" actor="prn_admin" target="key_4Hq" reason="compromised" sourceIp="203.0.113.9" requestId="req-42" ' +
        'data="{\\"note\\":\\"rotated after \\\\\\"leak\\\\\\" [ticket 9\\]\\"}"] ' +
        '\uFEFFkey.revoked success target=key_4Hq actor=prn_admin reason=compromised',
    );
    // authpriv (10) × 8 + warning (4) = 84; facility and SD-ID are options.
    expect(formatSyslog(sampleEvent, { facility: 'local4', sdId: 'keyturn@55555' })).toMatch(/^<164>1 \S+ - keyturn - key\.revoked \[keyturn@55555 /);
    expect(SYSLOG_SEVERITY.critical).toBe(2);
  });

  it('keeps header fields in their alphabet and length, and rejects invalid SD names', () => {
    const line = formatSyslog(sampleEvent, { hostname: 'bad host\u00e9', procId: '' });
    expect(parseSyslog(line).hostname).toBe('bad_host_');
    expect(parseSyslog(line).procId).toBe('-');
    expect(() => formatSyslogFields({ facility: 1, severity: 1, structuredData: [{ id: 'a b', params: [] }] })).toThrow(KeyturnError);
    expect(() => formatSyslogFields({ facility: 1, severity: 1, structuredData: [{ id: 'x', params: [['a=b', 'v']] }] })).toThrow(KeyturnError);
    expect(() => formatSyslogFields({ facility: 1, severity: 1, structuredData: [{ id: 'x'.repeat(33), params: [] }] })).toThrow(KeyturnError);
    expect(() => formatSyslogFields({ facility: 24, severity: 1, structuredData: [] })).toThrow(KeyturnError);
    expect(() => formatSyslogFields({ facility: 1, severity: 1, msgId: 'm'.repeat(33), structuredData: [] })).toThrow(KeyturnError);
  });

  it('frames with RFC 6587 octet counting: the byte length, a space, the message', () => {
    const framed = octetCount('<13>1 - - - - - - \uFEFFé😀');
    const text = framed.toString('utf8');
    const space = text.indexOf(' ');
    expect(Number(text.slice(0, space))).toBe(framed.length - space - 1);
    expect(framed.subarray(space + 1).toString('utf8')).toBe('<13>1 - - - - - - \uFEFFé😀');
    expect(octetCount('abc').toString()).toBe('3 abc');
  });

  it('property: every field round-trips through the structured data, whatever it contains', () => {
    fc.assert(
      fc.property(arbEvent, (event) => {
        const parsed = parseSyslog(formatSyslog(event, { hostname: 'h', procId: '1' }));
        expect(parsed.msgId).toBe(event.type);
        expect(parsed.timestamp).toBe(event.time);
        expect(parsed.bom).toBe(true);
        expect(parsed.message).toBe(summaryOf(event));
        const params = Object.fromEntries(parsed.structuredData[0]?.params ?? []);
        expect(params['seq']).toBe(String(event.seq));
        expect(params['id']).toBe(event.id);
        expect(params['actor']).toBe(event.actor ?? undefined);
        expect(params['target']).toBe(event.target ?? undefined);
        expect(params['reason']).toBe(event.reason ?? undefined);
        expect(params['requestId']).toBe(event.requestId ?? undefined);
        expect(params['sourceIp']).toBe(event.sourceIp ?? undefined);
        if (Object.keys(event.data).length > 0) expect(JSON.parse(params['data'] as string)).toEqual(event.data);
      }),
      { numRuns: 300 },
    );
  });
});

describe('CEF', () => {
  it('escapes headers (\\ and |) and extension values (\\, =, CR, LF) as the spec states', () => {
    expect(escapeCefHeader('a|b\\c=d')).toBe('a\\|b\\\\c=d');
    expect(escapeCefValue('a=b\\c|d\ne\rf')).toBe('a\\=b\\\\c|d\\ne\\rf');
  });

  it('writes an event line', () => {
    expect(formatCef(sampleEvent, product)).toBe(
      'CEF:0|keyturn|keyturn|0.1.0|key.revoked|key revoked|5|rt=1796400308123 externalId=evt_01JF3Z8Q2W cat=entity_management ' +
        'act=revoked outcome=success reason=compromised suser=prn_admin src=203.0.113.9 ' +
        'msg=key.revoked success target\\=key_4Hq actor\\=prn_admin reason\\=compromised cn1=7 cn1Label=seq cs1=req-42 cs1Label=requestId ' +
        'cs2=key_4Hq cs2Label=target cs3=key.revoked cs3Label=type cs4={"note":"rotated after \\\\"leak\\\\" [ticket 9]"} cs4Label=data',
    );
    expect(Date.parse(sampleEvent.time)).toBe(1796400308123);
  });

  it('uses duser for account changes and c6a2 for IPv6 sources; severities map to 0–10', () => {
    const parsed = parseCef(formatCef({ ...sampleEvent, category: 'account_change', sourceIp: '2001:db8::1' }, product));
    const ext = Object.fromEntries(parsed.extensions);
    expect(ext['duser']).toBe('key_4Hq');
    expect(ext['c6a2']).toBe('2001:db8::1');
    expect(ext['c6a2Label']).toBe('Source IPv6 Address');
    expect(ext['src']).toBeUndefined();
    expect(Object.values(CEF_SEVERITY).every((s) => Number.isInteger(s) && s >= 0 && s <= 10)).toBe(true);
  });

  it('property: header and extensions round-trip through a strict parser with hostile strings', () => {
    fc.assert(
      fc.property(arbEvent, fc.string({ maxLength: 12 }), (event, version) => {
        const line = formatCef(event, { version: `${version}|\\\n` });
        expect(line).not.toMatch(/[\r\n]/);
        const parsed = parseCef(line);
        expect(parsed.header[0]).toBe('CEF:0');
        expect(parsed.header[3]).toBe(`${version}|\\ `);
        expect(parsed.header[4]).toBe(event.type);
        expect(Number(parsed.header[6])).toBe(CEF_SEVERITY[event.severity]);
        const ext = Object.fromEntries(parsed.extensions);
        expect(parsed.extensions.length).toBe(Object.keys(ext).length);
        expect(ext['externalId']).toBe(event.id);
        expect(ext['suser']).toBe(event.actor ?? undefined);
        expect(ext['cs2']).toBe(event.target ?? undefined);
        expect(ext['reason']).toBe(event.reason ?? undefined);
        expect(ext['cs1']).toBe(event.requestId ?? undefined);
        expect(ext['msg']).toBe(summaryOf(event));
        expect(Number(ext['rt'])).toBe(Date.parse(event.time));
        expect(Number(ext['cn1'])).toBe(event.seq);
        if (Object.keys(event.data).length > 0) expect(JSON.parse(ext['cs4'] as string)).toEqual(event.data);
      }),
      { numRuns: 300 },
    );
  });
});

interface SchemaAttribute {
  readonly requirement: string;
  readonly type: string;
  readonly isArray?: boolean;
  readonly profile?: string;
}
interface Schema {
  readonly source: { repository: string; commit: string };
  readonly scalarTypes: Record<string, string>;
  readonly classes: Record<string, { categoryUid: number; classUid: number; activities: Record<string, string>; attributes: Record<string, SchemaAttribute> }>;
  readonly objects: Record<string, { attributes: Record<string, SchemaAttribute>; atLeastOne?: string[] }>;
}

const schema = JSON.parse(readFileSync(new URL('../vectors/ocsf/schema.json', import.meta.url), 'utf8')) as Schema;

/** Problems of `value` against an attribute table: missing required, unknown, wrongly typed. */
function validate(value: Record<string, unknown>, attributes: Record<string, SchemaAttribute>, path: string, atLeastOne?: string[]): string[] {
  const problems: string[] = [];
  for (const [name, attr] of Object.entries(attributes)) {
    if (attr.requirement === 'required' && attr.profile === undefined && !(name in value)) problems.push(`${path}${name}: required`);
  }
  if (atLeastOne !== undefined && !atLeastOne.some((n) => n in value)) problems.push(`${path}: needs one of ${atLeastOne.join(', ')}`);
  for (const [name, v] of Object.entries(value)) {
    const attr = attributes[name];
    if (attr === undefined) {
      problems.push(`${path}${name}: unknown attribute`);
      continue;
    }
    if (attr.profile !== undefined) problems.push(`${path}${name}: only in profile ${attr.profile}`);
    const items = attr.isArray === true ? (Array.isArray(v) ? v : [Symbol('not an array')]) : [v];
    for (const item of items) problems.push(...checkType(item, attr.type, `${path}${name}`));
  }
  return problems;
}

function checkType(value: unknown, type: string, path: string): string[] {
  const scalar = schema.scalarTypes[type];
  if (scalar === undefined) {
    if (type === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value) ? [] : [`${path}: not an object`];
    const object = schema.objects[type];
    if (object === undefined) return [`${path}: object type ${type} not extracted`];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not an object`];
    return validate(value as Record<string, unknown>, object.attributes, `${path}.`, object.atLeastOne);
  }
  const ok =
    scalar === 'string_t'
      ? typeof value === 'string'
      : scalar === 'integer_t' || scalar === 'long_t'
        ? Number.isSafeInteger(value)
        : scalar === 'float_t'
          ? typeof value === 'number'
          : scalar === 'boolean_t'
            ? typeof value === 'boolean'
            : true;
  return ok ? [] : [`${path}: not ${type}`];
}

describe('OCSF', () => {
  it('schema extract names its source and holds the five classes', () => {
    expect(schema.source.repository).toBe('https://github.com/ocsf/ocsf-schema');
    expect(Object.keys(schema.classes).sort()).toEqual(['2004', '3001', '3002', '3004', '6003']);
    for (const category of EVENT_CATEGORIES) {
      const ours = OCSF_CLASSES[category];
      const theirs = schema.classes[String(ours.classUid)];
      expect(theirs?.categoryUid, category).toBe(ours.categoryUid);
      // Every activity caption we use is the schema's.
      for (const [id, caption] of Object.entries(ours.activities)) expect(theirs?.activities[id], `${category} ${id}`).toBe(caption);
    }
  });

  it.each(EVENT_CATEGORIES.map((c) => [c] as const))('%s: the sample event is valid against the schema', (category) => {
    for (const variant of [
      { ...sampleEvent, category },
      { ...sampleEvent, category, actor: null, target: null, sourceIp: null, reason: null, requestId: null, data: {}, outcome: 'failure' as const },
      { ...sampleEvent, category, actor: null, sourceIp: '2001:db8::7' },
    ]) {
      const ocsf = toOcsf(variant, product);
      const cls = schema.classes[String(ocsf['class_uid'])];
      expect(cls).toBeDefined();
      expect(validate(ocsf, cls?.attributes ?? {}, '')).toEqual([]);
      expect(ocsf['type_uid']).toBe((ocsf['class_uid'] as number) * 100 + (ocsf['activity_id'] as number));
      expect(Object.keys(cls?.activities ?? {})).toContain(String(ocsf['activity_id']));
      expect((ocsf['metadata'] as { version: string }).version).toBe(OCSF_VERSION);
    }
  });

  it('maps verbs to activities, outcome to status and severity to severity_id', () => {
    const revoked = toOcsf(sampleEvent, product);
    expect(revoked).toMatchObject({ class_uid: 3004, activity_id: 11, activity_name: 'Deactivate', type_uid: 300411, severity_id: 3, status_id: 1, time: 1796400308123 });
    expect(revoked['entity']).toEqual({ uid: 'key_4Hq', type: 'key' });
    const failed = toOcsf({ ...sampleEvent, type: 'key.verify_failed', category: 'authentication', outcome: 'failure', reason: 'expired' }, product);
    expect(failed).toMatchObject({ class_uid: 3002, activity_id: 1, type_uid: 300201, status_id: 2, status: 'Failure', status_detail: 'expired' });
    const issued = toOcsf({ ...sampleEvent, type: 'token.issued', category: 'api_activity' }, product);
    expect(issued).toMatchObject({ class_uid: 6003, activity_id: 1, api: { operation: 'token.issued' }, src_endpoint: { ip: '203.0.113.9' } });
    const finding = toOcsf({ ...sampleEvent, type: 'detection.refresh_reuse', category: 'detection_finding', severity: 'high' }, product);
    expect(finding).toMatchObject({ class_uid: 2004, activity_id: 1, type_uid: 200401, severity_id: 4, is_alert: true });
    const other = toOcsf({ ...sampleEvent, type: 'leak_watch.ran' }, product);
    expect(other).toMatchObject({ activity_id: 99, activity_name: 'ran', type_uid: 300499 });
  });

  it('property: every event of every class is valid against the schema', () => {
    fc.assert(
      fc.property(arbEvent, (event: CanonicalEvent) => {
        const ocsf = toOcsf(event, product);
        const cls = schema.classes[String(ocsf['class_uid'])];
        expect(validate(ocsf, cls?.attributes ?? {}, '')).toEqual([]);
        // Plain JSON: survives serialisation unchanged.
        expect(JSON.parse(JSON.stringify(ocsf))).toEqual(ocsf);
      }),
      { numRuns: 300 },
    );
  });
});

describe('canonical record bytes (RFC 8785 JCS)', () => {
  it('reproduces the RFC 8785 §3.2.3 example', () => {
    const input = {
      numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001],
      string: '\u20ac$\u000F\u000aA\'\u0042\u0022\u005c\\"/',
      literals: [null, true, false],
    };
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units at every depth and rejects what JSON cannot hold', () => {
    expect(canonicalJson({ b: { z: 1, a: [{ y: 2, x: 1 }] }, a: 'é', '\u00e9': 0, '\ud83d\ude00': 1, '\ufb33': 2 })).toBe(
      '{"a":"é","b":{"a":[{"x":1,"y":2}],"z":1},"é":0,"😀":1,"\ufb33":2}',
    );
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(KeyturnError);
    expect(() => canonicalJson({ a: 1n })).toThrow(KeyturnError);
  });

  it('property: the leaf of a record is independent of key order and changes with any field', () => {
    fc.assert(
      fc.property(arbEvent, (event) => {
        const shuffled = Object.fromEntries(Object.entries(event).reverse()) as unknown as CanonicalEvent;
        expect(Buffer.from(leafHash(recordBytes(shuffled))).equals(leafHash(recordBytes(event)))).toBe(true);
        expect(JSON.parse(new TextDecoder().decode(recordBytes(event)))).toEqual(event);
        const edited = { ...event, seq: event.seq === 1 ? 2 : event.seq - 1 };
        expect(Buffer.from(leafHash(recordBytes(edited))).equals(leafHash(recordBytes(event)))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
