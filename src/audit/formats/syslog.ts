/**
 * RFC 5424 syslog messages and RFC 6587 octet-counting framing.
 *
 * `formatSyslog` writes one message per event:
 * `<PRI>1 TIMESTAMP HOSTNAME keyturn PROCID MSGID [keyturn@32473 …] BOM summary`, where PRI is
 * `facility × 8 + severity`, MSGID the event type and the structured data element carries every
 * field of the canonical record. PARAM-VALUEs escape `"`, `\` and `]` with a backslash
 * (§6.3.3); header fields keep to their printable US-ASCII alphabets and lengths (§6.2); the MSG
 * is UTF-8 preceded by the BOM (§6.4).
 */
import { KeyturnError } from '../../core/errors.js';
import { summaryOf, type CanonicalEvent, type Severity } from './record.js';

/** The SD-ID of keyturn's element. 32473 is the example Private Enterprise Number of RFC 5612. */
export const DEFAULT_SD_ID = 'keyturn@32473';

/** Syslog facilities (RFC 5424 §6.2.1), by their usual names. */
export const FACILITIES = {
  kern: 0,
  user: 1,
  daemon: 3,
  auth: 4,
  syslog: 5,
  authpriv: 10,
  audit: 13,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type Facility = keyof typeof FACILITIES;

/** Syslog severity numbers (RFC 5424 §6.2.1) of keyturn's severities. */
export const SYSLOG_SEVERITY: Readonly<Record<Severity, number>> = {
  informational: 6,
  low: 5,
  medium: 4,
  high: 3,
  critical: 2,
};

const NIL = '-';
const BOM = '\uFEFF';

/** One structured data element: an SD-ID and its parameters in order. */
export interface SdElement {
  readonly id: string;
  readonly params: readonly (readonly [name: string, value: string])[];
}

/** Every field of an RFC 5424 message, already chosen. `undefined` header fields are NILVALUE. */
export interface SyslogFields {
  /** 0–23. */
  readonly facility: number;
  /** 0–7. */
  readonly severity: number;
  /** RFC 3339 timestamp as RFC 5424 restricts it (§6.2.3), or undefined for NILVALUE. */
  readonly timestamp?: string;
  readonly hostname?: string;
  readonly appName?: string;
  readonly procId?: string;
  readonly msgId?: string;
  readonly structuredData: readonly SdElement[];
  /** The MSG part, if any. */
  readonly message?: string;
  /** Precede MSG with the UTF-8 BOM (§6.4: MUST when MSG is UTF-8). Default true. */
  readonly bom?: boolean;
}

const TIMESTAMP =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** True when `name` is a valid SD-NAME: 1–32 printable US-ASCII, none of `=`, space, `]`, `"`. */
export function isSdName(name: string): boolean {
  return /^[\x21-\x7e]{1,32}$/.test(name) && !/[= \]"]/.test(name);
}

/** Escapes a PARAM-VALUE (§6.3.3): `"`, `\` and `]` get a backslash, nothing else changes. */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/**
 * Makes a header field (HOSTNAME, APP-NAME, PROCID, MSGID) fit its grammar: printable US-ASCII,
 * other characters replaced by `_`, cut to `max`; undefined (NILVALUE) when empty.
 */
export function headerField(value: string | undefined, max: number): string | undefined {
  if (value === undefined || value === '') return undefined;
  return value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
}

function headerOrThrow(what: string, value: string | undefined, max: number): string {
  if (value === undefined) return NIL;
  if (!/^[\x21-\x7e]+$/.test(value) || value.length > max) {
    throw new KeyturnError('ERR_VALIDATION', `syslog ${what} must be 1–${max} printable US-ASCII characters`, {
      details: { [what]: value },
    });
  }
  return value;
}

/**
 * Writes one RFC 5424 message from fields already chosen, checking each against the grammar.
 * Reproduces the RFC's own §6.5 examples byte for byte.
 *
 * @example
 * ```ts
 * formatSyslogFields({ facility: 4, severity: 2, timestamp: '2003-10-11T22:14:15.003Z',
 *   hostname: 'mymachine.example.com', appName: 'su', msgId: 'ID47', structuredData: [],
 *   message: "'su root' failed for lonvick on /dev/pts/8" });
 * ```
 */
export function formatSyslogFields(fields: SyslogFields): string {
  const { facility, severity } = fields;
  if (!Number.isInteger(facility) || facility < 0 || facility > 23 || !Number.isInteger(severity) || severity < 0 || severity > 7) {
    throw new KeyturnError('ERR_VALIDATION', 'syslog facility is 0–23 and severity 0–7', { details: { facility, severity } });
  }
  if (fields.timestamp !== undefined && !TIMESTAMP.test(fields.timestamp)) {
    throw new KeyturnError('ERR_VALIDATION', 'syslog timestamp must be RFC 3339 with at most 6 fraction digits', {
      details: { timestamp: fields.timestamp },
    });
  }
  const header = [
    `<${facility * 8 + severity}>1`,
    fields.timestamp ?? NIL,
    headerOrThrow('hostname', fields.hostname, 255),
    headerOrThrow('appName', fields.appName, 48),
    headerOrThrow('procId', fields.procId, 128),
    headerOrThrow('msgId', fields.msgId, 32),
  ].join(' ');
  let sd = '';
  for (const element of fields.structuredData) {
    if (!isSdName(element.id)) throw new KeyturnError('ERR_VALIDATION', 'invalid SD-ID', { details: { id: element.id } });
    sd += `[${element.id}`;
    for (const [name, value] of element.params) {
      if (!isSdName(name)) throw new KeyturnError('ERR_VALIDATION', 'invalid PARAM-NAME', { details: { name } });
      sd += ` ${name}="${escapeParamValue(value)}"`;
    }
    sd += ']';
  }
  const message = fields.message === undefined ? '' : ` ${fields.bom === false ? '' : BOM}${fields.message}`;
  return `${header} ${sd === '' ? NIL : sd}${message}`;
}

/** Choices of a syslog sink. */
export interface SyslogOptions {
  /** Default `authpriv` (10): security and authorization messages. */
  readonly facility?: Facility;
  /** The sending host's name (sanitised to printable ASCII), NILVALUE when absent. */
  readonly hostname?: string;
  /** The process id, NILVALUE when absent. */
  readonly procId?: string;
  /** SD-ID of keyturn's element, default `keyturn@32473`; use your own enterprise number. */
  readonly sdId?: string;
}

/** Flattens `data` for syslog: strings as they are, anything else as JSON. */
function paramText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? 'null';
}

/**
 * The RFC 5424 message of one event. MSGID is the event type, the structured data carries seq,
 * id, type, category, severity, outcome and whichever of actor, target, reason, sourceIp,
 * requestId are set, then `data` as JSON; MSG is a one-line summary after the BOM.
 *
 * @example
 * ```ts
 * formatSyslog(event, { hostname: 'kt-1', procId: String(process.pid) });
 * // <85>1 2026-12-04T16:05:08.123Z kt-1 keyturn 4242 key.revoked [keyturn@32473 seq="7" …] BOMkey.revoked success target=key_1
 * ```
 */
export function formatSyslog(event: CanonicalEvent, options: SyslogOptions = {}): string {
  const params: [string, string][] = [
    ['seq', String(event.seq)],
    ['id', event.id],
    ['type', event.type],
    ['category', event.category],
    ['severity', event.severity],
    ['outcome', event.outcome],
  ];
  const optional = { actor: event.actor, target: event.target, reason: event.reason, sourceIp: event.sourceIp, requestId: event.requestId };
  for (const [name, value] of Object.entries(optional)) if (value !== null) params.push([name, value]);
  if (Object.keys(event.data).length > 0) params.push(['data', paramText(event.data)]);
  return formatSyslogFields({
    facility: FACILITIES[options.facility ?? 'authpriv'],
    severity: SYSLOG_SEVERITY[event.severity],
    timestamp: event.time,
    hostname: headerField(options.hostname, 255),
    appName: 'keyturn',
    procId: headerField(options.procId, 128),
    msgId: headerField(event.type, 32),
    structuredData: [{ id: options.sdId ?? DEFAULT_SD_ID, params }],
    message: summaryOf(event),
  });
}

/**
 * RFC 6587 §3.4.1 octet-counting frame: `MSG-LEN SP SYSLOG-MSG`, the length in bytes of the
 * UTF-8 message. Messages may then contain any character, newlines included.
 *
 * @example
 * ```ts
 * socket.write(octetCount(formatSyslog(event)));
 * ```
 */
export function octetCount(message: string | Uint8Array): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : Buffer.from(message);
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
