/**
 * The audit capability's public entry: other capability folders import the event log from here
 * (append, list, the request metadata every change carries). The Merkle log, checkpoints and
 * formatters are reached by their own modules from the edges that use them.
 */
export {
  appendEvent,
  appendEvents,
  EVENT_TYPES,
  EVENTS_CHANNEL,
  listEvents,
  SYSTEM,
  type AuditEvent,
  type EventData,
  type EventInput,
  type EventQuery,
  type EventType,
  type Outcome,
  type RequestMeta,
} from './events.js';
export { FailureLog, type AggregatedFailure, type FailureLogOptions } from './failure-log.js';
export { sanitizeClaimed } from './failures.js';
