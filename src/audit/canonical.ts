/**
 * From the event as stored to the canonical record every format is made from: the stored fields
 * (which are also what the Merkle leaf hashes, see `logRecordBytes`) plus what the event type's
 * declaration says — its severity and its category, which picks the OCSF class.
 */
import { EVENT_CATALOG, SEVERITIES, type Category, type EventType, type Severity } from './catalog.js';
import type { AuditEvent } from './events.js';
import type { CanonicalEvent, EventCategory } from './formats/record.js';

/** The catalogue's category as the record names it (the record uses OCSF's `detection_finding`). */
export function recordCategory(category: Category): EventCategory {
  return category === 'detection' ? 'detection_finding' : category;
}

/**
 * The canonical record of a stored event. Types unknown to this release (an event written by a
 * newer one) are `api_activity`, `informational`. A `detection.finding` carries its own severity
 * in `data.severity`, which wins over its type's.
 *
 * @example
 * ```ts
 * const line = toCef(toCanonical(event), product);
 * ```
 */
export function toCanonical(event: AuditEvent): CanonicalEvent {
  const spec = (EVENT_CATALOG as Partial<Record<string, (typeof EVENT_CATALOG)[EventType]>>)[event.type];
  const own = event.data['severity'];
  const severity = typeof own === 'string' && (SEVERITIES as readonly string[]).includes(own) ? (own as Severity) : (spec?.severity ?? 'informational');
  return {
    seq: event.seq,
    id: event.id,
    time: event.time,
    type: event.type,
    severity,
    category: spec ? recordCategory(spec.category) : 'api_activity',
    actor: event.actor,
    target: event.target,
    outcome: event.outcome,
    reason: event.reason,
    sourceIp: event.sourceIp,
    requestId: event.requestId,
    data: event.data,
  };
}
