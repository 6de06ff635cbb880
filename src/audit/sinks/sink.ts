/**
 * Audit sinks as configured: what each kind needs, and how a configured sink becomes a formatter
 * plus a {@link Transport}. Certificates and keys are read from files when the sink is built.
 */
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { KeyturnError } from '../../core/errors.js';
import { formatCef } from '../formats/cef.js';
import { toOcsf } from '../formats/ocsf.js';
import type { CanonicalEvent, ProductInfo } from '../formats/record.js';
import { FACILITIES, formatSyslog, formatSyslogFields, headerField, SYSLOG_SEVERITY, type Facility } from '../formats/syslog.js';
import type { LookupFunction } from 'node:net';
import { FileTransport, HecTransport, SyslogTransport, type TlsMaterial, type Transport } from './transports.js';
import { WebhookTransport } from './webhook.js';

/** How a sink reaches the network. */
export interface SinkBuildOptions {
  /** The clock of webhook timestamps (default: the real one). */
  readonly now?: () => Date;
  /** Resolves host names (the egress guard's `lookup` for sinks added through the admin API). */
  readonly lookup?: LookupFunction | undefined;
}

/** Files holding TLS material (PEM). */
export interface TlsFiles {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly servername?: string | undefined;
}

interface SinkBase {
  /** Unique among sinks: `[a-z][a-z0-9_-]*`. Names the cursor; renaming a sink starts a new one. */
  readonly name: string;
  /** Only these event types (`key.revoked`, or `key.*` for a noun); every type when empty. */
  readonly types?: readonly string[] | undefined;
  /** Where a new sink's cursor starts: the first event (`start`, default) or the newest (`end`). */
  readonly from?: 'start' | 'end' | undefined;
  /** Events per delivery (default 100). */
  readonly batchSize?: number | undefined;
}

/** RFC 5424 over TCP with RFC 6587 octet counting, or over TLS (RFC 5425) when `tls` is set. */
export interface SyslogSinkSpec extends SinkBase {
  readonly kind: 'syslog';
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsFiles | undefined;
  /** `rfc5424`: every field in structured data (default); `cef`: a CEF line as the MSG. */
  readonly format?: 'rfc5424' | 'cef' | undefined;
  readonly facility?: Facility | undefined;
  /** SD-ID of keyturn's element (default `keyturn@32473`). */
  readonly sdId?: string | undefined;
  /** HOSTNAME in the header (default: this machine's name). */
  readonly hostname?: string | undefined;
}

/** One line per event to a local file, rotated by size. */
export interface FileSinkSpec extends SinkBase {
  readonly kind: 'file';
  readonly path: string;
  /** `jsonl`: the canonical record (default); `cef`: CEF lines; `ocsf`: OCSF JSON lines. */
  readonly format?: 'jsonl' | 'cef' | 'ocsf' | undefined;
  readonly maxBytes?: number | undefined;
  readonly maxFiles?: number | undefined;
}

/** Splunk HTTP Event Collector, batched, with indexer acknowledgements by default. */
export interface SplunkHecSinkSpec extends SinkBase {
  readonly kind: 'splunk_hec';
  readonly url: string;
  readonly token: string;
  /** The event body: OCSF (default) or the canonical record. */
  readonly format?: 'ocsf' | 'jsonl' | undefined;
  readonly index?: string | undefined;
  readonly sourcetype?: string | undefined;
  readonly acks?: boolean | undefined;
  readonly ackTimeoutMs?: number | undefined;
  readonly tls?: TlsFiles | undefined;
}

/**
 * Signed webhooks: batches of canonical records POSTed as Standard Webhooks payloads, signed like
 * the rotation webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
 */
export interface WebhookSinkSpec extends SinkBase {
  readonly kind: 'webhook';
  readonly url: string;
  /** `whsec_<base64>`: made by keyturn for a sink added through the admin API. */
  readonly secret: string;
}

export type SinkSpec = SyslogSinkSpec | FileSinkSpec | SplunkHecSinkSpec | WebhookSinkSpec;
export type SinkKind = SinkSpec['kind'];

/** A sink ready to run: its formatter and its transport. */
export interface Sink {
  readonly name: string;
  readonly kind: SinkKind;
  readonly batchSize: number;
  readonly from: 'start' | 'end';
  /** Whether the sink takes events of `type`. */
  accepts(type: string): boolean;
  format(event: CanonicalEvent): string;
  readonly transport: Transport;
}

function readTls(files: TlsFiles | undefined, sink: string): TlsMaterial | undefined {
  if (files === undefined) return undefined;
  const read = (path: string | undefined, what: string) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new KeyturnError('ERR_CONFIG', `sink ${sink}: cannot read the TLS ${what} file ${path}: ${(err as Error).message}`);
    }
  };
  if ((files.cert === undefined) !== (files.key === undefined)) throw new KeyturnError('ERR_CONFIG', `sink ${sink}: a client certificate needs both cert and key`);
  return { ca: read(files.ca, 'ca'), cert: read(files.cert, 'cert'), key: read(files.key, 'key'), servername: files.servername };
}

/** `key.revoked` matches `key.revoked` and `key.*`. */
function typeFilter(types: readonly string[] | undefined): (type: string) => boolean {
  if (types === undefined || types.length === 0) return () => true;
  const exact = new Set(types.filter((t) => !t.endsWith('.*')));
  const nouns = types.filter((t) => t.endsWith('.*')).map((t) => t.slice(0, -1));
  return (type) => exact.has(type) || nouns.some((n) => type.startsWith(n));
}

/**
 * Builds a configured sink: reads its TLS files and picks its formatter.
 *
 * @example
 * ```ts
 * const sink = buildSink({ kind: 'syslog', name: 'siem', host: 'siem.internal', port: 6514, tls: { ca: '/etc/keyturn/ca.pem' } }, { version: '0.1.0' });
 * ```
 */
export function buildSink(spec: SinkSpec, product: ProductInfo, options: SinkBuildOptions = {}): Sink {
  const base = { name: spec.name, kind: spec.kind, batchSize: spec.batchSize ?? 100, from: spec.from ?? 'start', accepts: typeFilter(spec.types) } as const;
  switch (spec.kind) {
    case 'syslog': {
      const hostname = spec.hostname ?? osHostname();
      const procId = String(process.pid);
      const facility = spec.facility ?? 'authpriv';
      const format =
        spec.format === 'cef'
          ? (event: CanonicalEvent) =>
              formatSyslogFields({
                facility: FACILITIES[facility],
                severity: SYSLOG_SEVERITY[event.severity],
                timestamp: event.time,
                hostname: headerField(hostname, 255),
                appName: 'keyturn',
                procId,
                msgId: headerField(event.type, 32),
                structuredData: [],
                // MSG-ANY: a CEF receiver expects `CEF:` first, without a BOM.
                message: formatCef(event, product),
                bom: false,
              })
          : (event: CanonicalEvent) => formatSyslog(event, { facility, hostname, procId, ...(spec.sdId ? { sdId: spec.sdId } : {}) });
      return { ...base, format, transport: new SyslogTransport({ host: spec.host, port: spec.port, tls: readTls(spec.tls, spec.name), lookup: options.lookup }) };
    }
    case 'file': {
      const format =
        spec.format === 'cef'
          ? (event: CanonicalEvent) => formatCef(event, product)
          : spec.format === 'ocsf'
            ? (event: CanonicalEvent) => JSON.stringify(toOcsf(event, product))
            : (event: CanonicalEvent) => JSON.stringify(event);
      return { ...base, format, transport: new FileTransport({ path: spec.path, ...(spec.maxBytes ? { maxBytes: spec.maxBytes } : {}), ...(spec.maxFiles ? { maxFiles: spec.maxFiles } : {}) }) };
    }
    case 'splunk_hec': {
      const host = osHostname();
      const sourcetype = spec.sourcetype ?? (spec.format === 'jsonl' ? 'keyturn:audit' : 'keyturn:ocsf');
      const format = (event: CanonicalEvent) =>
        JSON.stringify({
          time: Date.parse(event.time) / 1000,
          host,
          source: 'keyturn',
          sourcetype,
          ...(spec.index ? { index: spec.index } : {}),
          event: spec.format === 'jsonl' ? event : toOcsf(event, product),
        });
      const transport = new HecTransport({
        url: spec.url,
        token: spec.token,
        ...(spec.acks === undefined ? {} : { acks: spec.acks }),
        ...(spec.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: spec.ackTimeoutMs }),
        tls: readTls(spec.tls, spec.name),
        lookup: options.lookup,
      });
      return { ...base, format, transport };
    }
    case 'webhook': {
      const transport = new WebhookTransport({ url: spec.url, secret: spec.secret, sink: spec.name, now: options.now ?? (() => new Date()), lookup: options.lookup });
      return { ...base, format: (event: CanonicalEvent) => JSON.stringify(event), transport };
    }
  }
}
