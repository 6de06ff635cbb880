/**
 * Open Cybersecurity Schema Framework (OCSF 1.x) events. The record's `category` picks the class:
 *
 * | category            | class                      | class_uid |
 * |---------------------|----------------------------|-----------|
 * | `authentication`    | Authentication             | 3002      |
 * | `account_change`    | Account Change             | 3001      |
 * | `entity_management` | Entity Management          | 3004      |
 * | `api_activity`      | API Activity               | 6003      |
 * | `detection_finding` | Detection Finding          | 2004      |
 *
 * `activity_id` comes from the verb of the event type (`created` → Create, …, 99 Other when no
 * activity fits), `type_uid = class_uid × 100 + activity_id`, `severity_id` from the severity,
 * `status_id` from the outcome (1 Success, 2 Failure) with the reason as `status_detail`, `time`
 * in epoch milliseconds, the seq as `metadata.sequence`. What has no OCSF attribute (`data`, and
 * for findings the actor, target and source) goes to `unmapped`. Tests check
 * each class against the OCSF schema's required attributes and types.
 */
import { eventNoun, eventVerb, summaryOf, type CanonicalEvent, type EventCategory, type ProductInfo, type Severity } from './record.js';

/** The OCSF schema version the output follows (metadata.version). */
export const OCSF_VERSION = '1.8.0';

interface ClassInfo {
  readonly classUid: number;
  readonly className: string;
  readonly categoryUid: number;
  readonly categoryName: string;
  /** Activity ids and captions of the class. */
  readonly activities: Readonly<Record<number, string>>;
  /** Verb → activity id; verbs not listed are 99 Other. */
  readonly verbs: Readonly<Record<string, number>>;
}

const IAM = { categoryUid: 3, categoryName: 'Identity & Access Management' } as const;

/** The five classes, with the activity captions of OCSF 1.x. */
export const OCSF_CLASSES: Readonly<Record<EventCategory, ClassInfo>> = {
  authentication: {
    ...IAM,
    classUid: 3002,
    className: 'Authentication',
    activities: { 1: 'Logon', 2: 'Logoff', 99: 'Other' },
    // Every presentation of a credential is a logon attempt; its outcome says how it went.
    verbs: { verify_failed: 1, auth_failed: 1, verified: 1, used: 1, introspection_failed: 1, logon: 1, logoff: 2 },
  },
  account_change: {
    ...IAM,
    classUid: 3001,
    className: 'Account Change',
    activities: { 1: 'Create', 2: 'Enable', 3: 'Password Change', 5: 'Disable', 6: 'Delete', 9: 'Lock', 12: 'Unlock', 99: 'Other' },
    verbs: { created: 1, enabled: 2, secret_rotated: 3, disabled: 5, deleted: 6, suspended: 9, unsuspended: 12 },
  },
  entity_management: {
    ...IAM,
    classUid: 3004,
    className: 'Entity Management',
    activities: { 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 8: 'Enable', 9: 'Disable', 11: 'Deactivate', 12: 'Suspend', 13: 'Resume', 99: 'Other' },
    verbs: {
      created: 1,
      read: 2,
      updated: 3,
      rotated: 3,
      secret_rotated: 3,
      deleted: 4,
      removed: 4,
      enabled: 8,
      disabled: 9,
      revoked: 11,
      suspended: 12,
      unsuspended: 13,
    },
  },
  api_activity: {
    classUid: 6003,
    className: 'API Activity',
    categoryUid: 6,
    categoryName: 'Application Activity',
    activities: { 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' },
    verbs: { issued: 1, exchanged: 1, created: 1, request_failed: 1, introspected: 2, read: 2, refreshed: 3, updated: 3, revoked: 4, deleted: 4 },
  },
  detection_finding: {
    classUid: 2004,
    className: 'Detection Finding',
    categoryUid: 2,
    categoryName: 'Findings',
    activities: { 1: 'Create', 2: 'Update', 3: 'Close', 99: 'Other' },
    // A detection event reports a new finding whatever its verb.
    verbs: {},
  },
};

/** OCSF severity_id of keyturn's severities (1 Informational … 5 Critical). */
export const OCSF_SEVERITY: Readonly<Record<Severity, { readonly id: number; readonly name: string }>> = {
  informational: { id: 1, name: 'Informational' },
  low: { id: 2, name: 'Low' },
  medium: { id: 3, name: 'Medium' },
  high: { id: 4, name: 'High' },
  critical: { id: 5, name: 'Critical' },
};

/** An OCSF event object (plain JSON). */
export type OcsfEvent = Record<string, unknown>;

function activityOf(info: ClassInfo, type: string): { id: number; name: string } {
  const id = info.classUid === 2004 ? 1 : (info.verbs[eventVerb(type)] ?? 99);
  return { id, name: info.activities[id] ?? 'Other' };
}

/**
 * The OCSF class and activity an event type maps to (what `docs/events.md` lists per type).
 *
 * @example
 * ```ts
 * ocsfClassOf('entity_management', 'key.revoked'); // { classUid: 3004, className: 'Entity Management', activityId: 11, activityName: 'Deactivate' }
 * ```
 */
export function ocsfClassOf(category: EventCategory, type: string): { classUid: number; className: string; activityId: number; activityName: string } {
  const info = OCSF_CLASSES[category];
  const activity = activityOf(info, type);
  return { classUid: info.classUid, className: info.className, activityId: activity.id, activityName: activity.name };
}

/**
 * The OCSF event of one canonical record, in the class its category names.
 *
 * @example
 * ```ts
 * JSON.stringify(toOcsf(event, { version: '0.1.0' }));
 * // {"class_uid":3004,"category_uid":3,"activity_id":11,"type_uid":300411,…}
 * ```
 */
export function toOcsf(event: CanonicalEvent, product: ProductInfo): OcsfEvent {
  const info = OCSF_CLASSES[event.category];
  const activity = activityOf(info, event.type);
  const severity = OCSF_SEVERITY[event.severity];
  const out: OcsfEvent = {
    class_uid: info.classUid,
    class_name: info.className,
    category_uid: info.categoryUid,
    category_name: info.categoryName,
    activity_id: activity.id,
    activity_name: activity.id === 99 ? eventVerb(event.type) : activity.name,
    type_uid: info.classUid * 100 + activity.id,
    type_name: `${info.className}: ${activity.id === 99 ? 'Other' : activity.name}`,
    severity_id: severity.id,
    severity: severity.name,
    status_id: event.outcome === 'success' ? 1 : 2,
    status: event.outcome === 'success' ? 'Success' : 'Failure',
    ...(event.reason === null ? {} : { status_detail: event.reason }),
    time: Date.parse(event.time),
    message: summaryOf(event),
    metadata: {
      version: OCSF_VERSION,
      uid: event.id,
      event_code: event.type,
      log_name: 'audit',
      sequence: event.seq,
      ...(event.requestId === null ? {} : { correlation_uid: event.requestId }),
      product: { name: 'keyturn', vendor_name: 'keyturn', version: product.version },
    },
  };
  const actor = event.actor !== null ? { user: { uid: event.actor } } : event.sourceIp !== null ? { user: { name: 'anonymous' } } : { app_name: 'keyturn' };
  const srcEndpoint = event.sourceIp !== null ? { ip: event.sourceIp } : undefined;
  const noun = eventNoun(event.type);
  switch (event.category) {
    case 'authentication':
      Object.assign(out, {
        user: event.target !== null ? { uid: event.target } : { name: 'unknown' },
        service: { name: 'keyturn' },
        actor,
        ...(srcEndpoint === undefined ? {} : { src_endpoint: srcEndpoint }),
      });
      break;
    case 'account_change':
      Object.assign(out, {
        user: event.target !== null ? { uid: event.target } : { name: 'unknown' },
        actor,
        ...(srcEndpoint === undefined ? {} : { src_endpoint: srcEndpoint }),
      });
      break;
    case 'entity_management':
      Object.assign(out, {
        entity: event.target !== null ? { uid: event.target, type: noun } : { name: noun, type: noun },
        actor,
        ...(srcEndpoint === undefined ? {} : { src_endpoint: srcEndpoint }),
      });
      break;
    case 'api_activity':
      Object.assign(out, {
        api: { operation: event.type, service: { name: 'keyturn' } },
        actor,
        // Required by the class: an event without a caller address came from keyturn itself.
        src_endpoint: srcEndpoint ?? { name: 'keyturn' },
      });
      break;
    case 'detection_finding':
      Object.assign(out, {
        finding_info: { uid: event.id, title: summaryOf(event), types: [event.type] },
        is_alert: event.severity === 'high' || event.severity === 'critical',
      });
      break;
  }
  const unmapped: Record<string, unknown> = {};
  if (Object.keys(event.data).length > 0) unmapped['data'] = event.data;
  if (event.category === 'detection_finding') {
    // Detection Finding has no actor or source endpoint outside profiles: keep them here.
    if (event.actor !== null) unmapped['actor'] = event.actor;
    if (event.target !== null) unmapped['target'] = event.target;
    if (event.sourceIp !== null) unmapped['sourceIp'] = event.sourceIp;
  }
  if (Object.keys(unmapped).length > 0) out['unmapped'] = unmapped;
  return out;
}
