/**
 * The canonical event record every SIEM format is made from: one flat, stable shape, whatever
 * the event type, with field names aligned with OCSF (severity, category, actor, target, outcome,
 * source endpoint). Formats are pure functions from this record to bytes; sinks and exports
 * share them. `toCanonical` (`src/audit/canonical.ts`) makes one from a stored event.
 */
import { KeyturnError } from '../../core/errors.js';

/** OCSF event classes keyturn maps to, by the name of the record's `category`. */
export const EVENT_CATEGORIES = [
  /** OCSF 3002 Authentication: a credential presented (verified, refused). */
  'authentication',
  /** OCSF 3001 Account Change: a principal created, disabled, enabled. */
  'account_change',
  /** OCSF 3004 Entity Management: keys, clients, watches created, rotated, revoked. */
  'entity_management',
  /** OCSF 6003 API Activity: tokens issued, refreshed, exchanged, introspected. */
  'api_activity',
  /** OCSF 2004 Detection Finding: a detection rule fired. */
  'detection_finding',
] as const;
export type EventCategory = (typeof EVENT_CATEGORIES)[number];

/** Severities, as OCSF's `severity_id` 1–5 names them. */
export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One audit event, ready for any wire format. Secrets never appear in it. */
export interface CanonicalEvent {
  /** Position in the gap-free log sequence (1, 2, 3, …). */
  readonly seq: number;
  /** Unique event id. */
  readonly id: string;
  /** When it happened: RFC 3339 UTC with milliseconds, e.g. `2026-12-04T16:05:08.123Z`. */
  readonly time: string;
  /** The event type, `<noun>.<verb>`, e.g. `key.revoked`. */
  readonly type: string;
  readonly severity: Severity;
  readonly category: EventCategory;
  /** The principal that acted, or `null` for anonymous or the system. */
  readonly actor: string | null;
  /** What the event is about (a key id, client id, …), or `null`. */
  readonly target: string | null;
  readonly outcome: 'success' | 'failure';
  /** Why it failed (or a qualifier of a success), or `null`. */
  readonly reason: string | null;
  /** The caller's address (source endpoint), or `null`. */
  readonly sourceIp: string | null;
  /** The request that caused it, or `null`. */
  readonly requestId: string | null;
  /** Further non-secret facts. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** Facts about the emitting product, shared by every format. */
export interface ProductInfo {
  /** keyturn's version, e.g. `0.1.0`. */
  readonly version: string;
}

/** The verb of an event type: `key.revoked` → `revoked`. */
export function eventVerb(type: string): string {
  const dot = type.lastIndexOf('.');
  return dot < 0 ? type : type.slice(dot + 1);
}

/** The noun of an event type: `key.revoked` → `key`. */
export function eventNoun(type: string): string {
  const dot = type.lastIndexOf('.');
  return dot < 0 ? type : type.slice(0, dot);
}

/** A one-line human summary: `key.revoked failure target=key_1 reason=already_revoked`. */
export function summaryOf(event: CanonicalEvent): string {
  const parts = [event.type, event.outcome];
  if (event.target !== null) parts.push(`target=${event.target}`);
  if (event.actor !== null) parts.push(`actor=${event.actor}`);
  if (event.reason !== null) parts.push(`reason=${event.reason}`);
  return parts.join(' ');
}

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS) for plain JSON values: object keys sorted by UTF-16
 * code units, no whitespace, strings and numbers as ECMAScript's JSON.stringify writes them.
 * Object members whose value is undefined are left out (as JSON.stringify does); other values
 * JSON cannot hold (non-finite numbers, bigint, functions, symbols) throw `ERR_VALIDATION`.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, null] }); // '{"a":[true,null],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new KeyturnError('ERR_VALIDATION', 'JSON cannot hold a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    // Members whose value is undefined are absent, as in JSON.stringify.
    const entries = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
    return `{${entries.join(',')}}`;
  }
  throw new KeyturnError('ERR_VALIDATION', `JSON cannot hold a ${typeof value}`);
}

/**
 * The bytes of a whole canonical record: the UTF-8 of its RFC 8785 canonical JSON (for exports
 * that are signed or hashed). The Merkle leaf is not this but the stored fields alone
 * (`logRecordBytes` in `src/audit/log.ts`): severity and category are derived from the catalogue,
 * and a later release that re-classified a type must not change old leaves.
 *
 * @example
 * ```ts
 * const digest = createHash('sha256').update(recordBytes(event)).digest('hex');
 * ```
 */
export function recordBytes(event: CanonicalEvent): Uint8Array {
  return new TextEncoder().encode(canonicalJson(event));
}
