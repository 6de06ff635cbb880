import { z } from 'zod';
import { recordCategory } from './canonical.js';
import { CATEGORIES, EVENT_CATALOG, SEVERITIES, type EventType } from './catalog.js';
import { ocsfClassOf } from './formats/ocsf.js';

/** `Entity Management` (3004) / `Deactivate` (11): the OCSF class and activity of a type. */
function ocsfText(type: EventType): { cls: string; activity: string } {
  const o = ocsfClassOf(recordCategory(EVENT_CATALOG[type].category), type);
  return { cls: `${o.className} (${o.classUid})`, activity: `${o.activityName} (${o.activityId})` };
}

interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly items?: JsonSchema;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly description?: string;
}

/** A JSON Schema type as a short TypeScript-like text: `string`, `'a' \| 'b'`, `string[]`, `string \| null`. */
function typeText(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  const types = schema.type === undefined ? [] : typeof schema.type === 'string' ? [schema.type] : schema.type;
  return types
    .map((t) => (t === 'array' ? `${schema.items ? typeText(schema.items) : 'unknown'}[]` : t === 'null' ? '`null`' : t))
    .join(' \\| ');
}

/** One table row per field; fields of nested objects follow as `parent.field`. */
function fieldRows(schema: JsonSchema, prefix = ''): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([name, field]) => {
    const path = `${prefix}${name}`;
    const required = schema.required?.includes(name) ? 'yes' : 'no';
    const row = `| \`${path}\` | ${typeText(field)} | ${required} | ${field.description ?? ''} |`;
    return field.properties ? [row, ...fieldRows(field, `${path}.`)] : [row];
  });
}

function section(type: EventType): string[] {
  const spec = EVENT_CATALOG[type];
  const schema = z.toJSONSchema(spec.data, { io: 'input' }) as JsonSchema;
  const rows = fieldRows(schema);
  return [
    `### \`${type}\``,
    '',
    spec.description,
    '',
    `- category: \`${spec.category}\`; severity: \`${spec.severity}\`; outcome: ${spec.outcomes.map((o) => `\`${o}\``).join(' or ')}`,
    `- OCSF: class ${ocsfText(type).cls}, activity ${ocsfText(type).activity}`,
    `- target: ${spec.target}`,
    ...('reason' in spec ? [`- reason: ${spec.reason}`] : []),
    '',
    ...(rows.length === 0 ? ['`data`: `{}`'] : ['| `data` field | type | required | meaning |', '| --- | --- | --- | --- |', ...rows]),
    '',
  ];
}

/** The event reference, generated from {@link EVENT_CATALOG}. */
export function eventsReference(): string {
  const types = Object.keys(EVENT_CATALOG) as EventType[];
  const index = types.map((type) => {
    const spec = EVENT_CATALOG[type];
    return `| [\`${type}\`](#${type.replace(/[._]/g, '')}) | ${spec.category} | ${ocsfText(type).cls} | ${spec.severity} | ${spec.outcomes.join(', ')} |`;
  });
  return [
    '# Event reference',
    '',
    '<!-- Generated from src/audit/catalog.ts by `npm run docs:events`; a test keeps it current. Do not edit by hand. -->',
    '',
    'Every security-relevant change and every failed verification appends one event to the log, in the',
    'same transaction as the change; the change does not happen unless its event is stored. An event has',
    '`seq` (its place in the gap-free, commit-ordered sequence: a reader following',
    '`GET /v1/events?after=<last seq>` sees every event once, in order), `id`, `time`, `type`, `actor`',
    '(principal id of the caller, or `null`), `target`, `outcome`, `reason`, `sourceIp` (source endpoint),',
    '`requestId` and `data`; no secret ever appears in one. A new secret is named by its id and an',
    '`hmac-sha256:` fingerprint under the deployment salt. These stored fields, as RFC 8785 JSON, are the',
    'Merkle leaf of the record (see [audit.md](audit.md)); the canonical record every SIEM format is made',
    'from adds the type\'s `severity` and `category`, which picks the OCSF class listed below.',
    '',
    `Severities (after OCSF): ${SEVERITIES.map((s) => `\`${s}\``).join(', ')}. Categories: ${CATEGORIES.map((c) => `\`${c}\``).join(', ')}.`,
    '',
    '| type | category | OCSF class | severity | outcome |',
    '| --- | --- | --- | --- | --- |',
    ...index,
    '',
    '## Types',
    '',
    ...types.flatMap(section),
  ].join('\n');
}
