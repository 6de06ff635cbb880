/**
 * ArcSight Common Event Format (CEF) version 0:
 * `CEF:0|keyturn|keyturn|<version>|<signature id>|<name>|<severity>|<extension>`.
 *
 * Escaping, exactly as "Implementing ArcSight CEF" states it:
 * - header fields: a backslash becomes `\\` and a pipe `\|`; headers are one line, so CR and LF
 *   become spaces;
 * - extension values: a backslash becomes `\\`, an equal sign `\=`, and newlines are written
 *   `\n` (LF) and `\r` (CR); pipes are not escaped there;
 * - extension keys are fixed alphanumeric names from the CEF dictionary, separated by spaces.
 */
import { eventNoun, eventVerb, summaryOf, type CanonicalEvent, type ProductInfo, type Severity } from './record.js';

/** CEF severity (0–10) of keyturn's severities: Low 0–3, Medium 4–6, High 7–8, Very-High 9–10. */
export const CEF_SEVERITY: Readonly<Record<Severity, number>> = {
  informational: 1,
  low: 3,
  medium: 5,
  high: 8,
  critical: 10,
};

/** Escapes a header field: `\` → `\\`, `|` → `\|`, CR and LF → space. */
export function escapeCefHeader(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/\r\n|[\r\n]/g, ' ');
}

/** Escapes an extension value: `\` → `\\`, `=` → `\=`, LF → `\n`, CR → `\r`. */
export function escapeCefValue(value: string): string {
  return value.replace(/[\\=\r\n]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`));
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * The CEF extension pairs of an event, in a fixed order, with the standard keys:
 * `rt` (time, ms since the epoch), `externalId` (event id), `cat` (category), `act` (the verb),
 * `outcome`, `reason`, `suser` (actor), `duser` (the principal acted on, for account changes),
 * `src` (an IPv4 source) or `c6a2` (an IPv6 source), `msg` (summary) and labelled custom fields
 * `cn1` seq, `cs1` requestId, `cs2` target, `cs3` event type, `cs4` data (JSON).
 */
export function cefExtensions(event: CanonicalEvent): [key: string, value: string][] {
  const pairs: [string, string][] = [
    ['rt', String(Date.parse(event.time))],
    ['externalId', event.id],
    ['cat', event.category],
    ['act', eventVerb(event.type)],
    ['outcome', event.outcome],
  ];
  if (event.reason !== null) pairs.push(['reason', event.reason]);
  if (event.actor !== null) pairs.push(['suser', event.actor]);
  if (event.target !== null && event.category === 'account_change') pairs.push(['duser', event.target]);
  if (event.sourceIp !== null) {
    if (IPV4.test(event.sourceIp)) pairs.push(['src', event.sourceIp]);
    else pairs.push(['c6a2', event.sourceIp], ['c6a2Label', 'Source IPv6 Address']);
  }
  pairs.push(['msg', summaryOf(event)], ['cn1', String(event.seq)], ['cn1Label', 'seq']);
  if (event.requestId !== null) pairs.push(['cs1', event.requestId], ['cs1Label', 'requestId']);
  if (event.target !== null) pairs.push(['cs2', event.target], ['cs2Label', 'target']);
  pairs.push(['cs3', event.type], ['cs3Label', 'type']);
  if (Object.keys(event.data).length > 0) pairs.push(['cs4', JSON.stringify(event.data)], ['cs4Label', 'data']);
  return pairs;
}

/**
 * One CEF line (without a syslog header or a trailing newline). The signature id is the event
 * type; the name is its noun and verb in words.
 *
 * @example
 * ```ts
 * formatCef(event, { version: '0.1.0' });
 * // CEF:0|keyturn|keyturn|0.1.0|key.revoked|key revoked|1|rt=1796400308123 externalId=evt_1 cat=entity_management act=revoked …
 * ```
 */
export function formatCef(event: CanonicalEvent, product: ProductInfo): string {
  const name = `${eventNoun(event.type).replace(/[._]/g, ' ')} ${eventVerb(event.type).replace(/_/g, ' ')}`;
  const header = ['CEF:0', 'keyturn', 'keyturn', product.version, event.type, name, String(CEF_SEVERITY[event.severity])];
  const extension = cefExtensions(event)
    .map(([key, value]) => `${key}=${escapeCefValue(value)}`)
    .join(' ');
  return `${header.map((h, i) => (i === 0 ? h : escapeCefHeader(h))).join('|')}|${extension}`;
}
