/**
 * From a stored event to the {@link CanonicalEvent} every SIEM format is made from: the catalog
 * gives the category and severity (a `detection.finding` carries its own severity in `data`).
 */
import { EVENT_CATALOG, SEVERITIES, type Severity } from '../catalog.js';
import type { AuditEvent } from '../events.js';
import type { CanonicalEvent, EventCategory } from '../formats/record.js';

/** Catalog categories to the OCSF-class names of the canonical record. */
const CATEGORY: Readonly<Record<string, EventCategory>> = {
  authentication: 'authentication',
  account_change: 'account_change',
  entity_management: 'entity_management',
  api_activity: 'api_activity',
  detection: 'detection_finding',
};

/**
 * The canonical record of one stored event.
 *
 * @example
 * ```ts
 * formatSyslog(canonicalOf(event), { hostname: 'kt-1' });
 * ```
 */
export function canonicalOf(event: AuditEvent): CanonicalEvent {
  const spec = (EVENT_CATALOG as Record<string, { category: string; severity: Severity } | undefined>)[event.type];
  const own = event.data['severity'];
  const severity = typeof own === 'string' && (SEVERITIES as readonly string[]).includes(own) ? (own as Severity) : (spec?.severity ?? 'informational');
  return {
    seq: event.seq,
    id: event.id,
    time: event.time,
    type: event.type,
    severity,
    category: CATEGORY[spec?.category ?? 'api_activity'] ?? 'api_activity',
    actor: event.actor,
    target: event.target,
    outcome: event.outcome,
    reason: event.reason,
    sourceIp: event.sourceIp,
    requestId: event.requestId,
    data: event.data,
  };
}
