import { appendEvent, SYSTEM } from '../../audit/index.js';
import type { Context } from '../../core/context.js';
import { webhookMessage, type Outbox } from '../../jobs/index.js';
import type { Transaction } from '../../store/port.js';
import type { FindingRecord } from './findings-store.js';
import type { CredentialResponse, CredentialType, HeldReason, Sighting } from './finding.js';
import { UNTRUSTED_NOTE } from './untrusted.js';

/**
 * Telling people about a new finding: the owner's webhook and the global one. The responder
 * decides who is told ({@link leakNotifications}) and hands the list to a {@link LeakNotifier};
 * how it is delivered is the notifier's business.
 */

/** Minimal logger (pino fits). */
export interface LeakLogger {
  warn(obj: object, msg: string): void;
}

/** The JSON body each webhook receives for a new finding (documented in docs/leaks.md). */
export interface LeakDetectedPayload {
  readonly type: 'leak.detected';
  readonly time: string;
  readonly finding: {
    readonly id: string;
    readonly fingerprint: string;
    readonly kind: string;
    readonly rule: string;
    readonly status: FindingRecord['status'];
    readonly firstSeen: string;
  };
  readonly key: {
    readonly id: string;
    readonly name: string;
    readonly start: string;
    readonly principal: string;
    readonly action: 'suspended' | 'revoked' | 'none';
  } | null;
  /** The keyturn credential the secret is (any type, API keys included), and what was done to it. */
  readonly credential: {
    readonly type: CredentialType;
    readonly id: string;
    readonly principal: string;
    readonly client: string | null;
    readonly label: string;
    readonly response: CredentialResponse | null;
    /** Why a live admin key was left working (reported only). */
    readonly held: HeldReason | null;
  } | null;
  /** `true` when the secret had been reported before and was acted on (or held) again. */
  readonly repeat: boolean;
  /**
   * Where it was seen. A public reporter's URL is only ever `where.untrustedUrl`: defanged text,
   * never a link (see `untrusted`).
   */
  readonly where: Sighting;
  /** Which fields hold text from an anonymous outsider, and how to treat it. */
  readonly untrusted: { readonly fields: readonly string[]; readonly note: string } | null;
  /** One plain-text paragraph for relays (chat, e-mail): no links, untrusted text labelled as such. */
  readonly text: string;
  /**
   * The successor issued for a leaked API key (its id only, never its secret): an administrator
   * collects its secret (`keyturn keys reveal-successor <id>`); presenting the leaked key never
   * does (`pickup: admin`). `null` when none was issued.
   */
  readonly successor: { readonly id: string; readonly pickup: 'admin' } | null;
}

/** One webhook delivery to make. */
export interface LeakNotification {
  readonly url: string;
  readonly to: 'owner' | 'global';
  /** The target of the `leak.notified` event: the credential's id, or the finding's when no credential of ours is involved. */
  readonly target: string;
  readonly payload: LeakDetectedPayload;
}

/**
 * Where the responder hands the notifications of a new finding: inside the finding's
 * transaction, so they are kept exactly when the finding is ({@link OutboxNotifier} writes them
 * to the durable outbox, delivered at least once, surviving a crash).
 */
export interface LeakNotifier {
  /** Takes the deliveries of one new finding, in the transaction that records it. */
  send(tx: Transaction, notifications: readonly LeakNotification[]): Promise<void>;
  /** Resolves when every delivery handed over so far has had its first attempt. */
  idle(): Promise<void>;
}

/** The facts of a new finding the notifications are made of. */
export interface NewFinding {
  readonly finding: FindingRecord;
  /** The key of ours the secret is, with its owner's webhook, if any. */
  readonly key?: { readonly id: string; readonly name: string; readonly start: string; readonly principal: string; readonly ownerWebhook: string | null };
  readonly action: 'suspended' | 'revoked' | 'none';
  /** What was done to the credential, if anything. */
  readonly response?: CredentialResponse | null;
  /** Reported before, acted on (or held) again. */
  readonly repeat?: boolean;
  /** The successor issued for a leaked API key, if any. */
  readonly successor?: string | null;
  /** The keyturn credential the secret is, any type, with its owner's webhook. */
  readonly credential?: {
    readonly type: CredentialType;
    readonly id: string;
    readonly principal: string;
    readonly clientId: string | null;
    readonly label: string;
    readonly ownerWebhook: string | null;
  };
  readonly where: Sighting;
  /** When it was first seen (ms since the epoch). */
  readonly at: number;
}

const RESPONSE_TEXT: Record<CredentialResponse, string> = {
  key_suspended: 'the key was suspended',
  key_revoked: 'the key was revoked',
  client_disabled: 'the client was disabled',
  secret_revoked: 'the secret was revoked',
  grant_revoked: 'the refresh token family (grant) was revoked',
  token_revoked: 'the access token was revoked',
};

/**
 * The plain-text summary of a finding: what it is, what was done, where it was seen. A public
 * reporter's URL appears only defanged, after a label saying it is unverified.
 */
export function leakText(found: NewFinding): string {
  const { finding, credential } = found;
  const what = credential ? `A keyturn ${credential.type.replace('_', ' ')} (${credential.label})` : `A ${finding.kind} secret (rule ${finding.rule})`;
  const verb = found.repeat ? 'was seen leaked again' : 'was found leaked';
  const done = found.response
    ? `; ${RESPONSE_TEXT[found.response]}`
    : finding.held
      ? `; it was NOT suspended (${finding.held === 'last_admin' ? 'it is the last working admin key: rotate it now' : 'the scan that reported it authenticated with it'})`
      : credential
        ? '; it was already not working'
        : '';
  const w = found.where;
  const place = [w.source, w.file === undefined ? undefined : `${w.file}${w.line === undefined ? '' : `:${w.line}`}`, w.commit ? `commit ${w.commit}` : undefined, w.url]
    .filter((p): p is string => p !== undefined && p !== '')
    .join(' ');
  const seen = `Seen via ${w.via}${place ? `: ${place}` : ''}.`;
  const reported = w.untrustedUrl === undefined ? '' : ` The reporter says it was at (${UNTRUSTED_NOTE}): ${w.untrustedUrl}`;
  const successor = found.successor ? ` A successor key ${found.successor} was issued; an administrator hands it out (keyturn keys reveal-successor ${found.successor}).` : '';
  return `${what} ${verb}${done}.${successor} ${seen}${reported} Finding ${finding.id}.`;
}

/**
 * Who is told about a new finding, and what: the key owner's webhook when the secret is one of
 * our keys and its principal has one, and the global webhook when configured; in that order.
 *
 * @example
 * ```ts
 * notifier.send(leakNotifications({ finding, key, action: 'suspended', where, at: now }, config.leakWebhookUrl));
 * ```
 */
export function leakNotifications(found: NewFinding, globalWebhook: string | undefined): LeakNotification[] {
  const payload = leakPayload(found);
  const target = leakTarget(found);
  const ownerWebhook = found.credential?.ownerWebhook ?? found.key?.ownerWebhook;
  const list: LeakNotification[] = [];
  if (ownerWebhook) list.push({ url: ownerWebhook, to: 'owner', target, payload });
  if (globalWebhook) list.push({ url: globalWebhook, to: 'global', target, payload });
  return list;
}

/** What a finding's notifications are about: the credential's id, or the finding's when no credential of ours is involved. */
export function leakTarget(found: NewFinding): string {
  return found.credential?.id ?? found.finding.keyId ?? found.finding.id;
}

/** The JSON body telling of a new finding (the `data` of an owner's signed `key.leaked` webhook). */
export function leakPayload(found: NewFinding): LeakDetectedPayload {
  const { finding, key } = found;
  const time = new Date(found.at).toISOString();
  return {
    type: 'leak.detected',
    time,
    finding: { id: finding.id, fingerprint: finding.fingerprint, kind: finding.kind, rule: finding.rule, status: finding.status, firstSeen: time },
    key: key ? { id: key.id, name: key.name, start: key.start, principal: key.principal, action: found.action } : null,
    credential: found.credential
      ? {
          type: found.credential.type,
          id: found.credential.id,
          principal: found.credential.principal,
          client: found.credential.clientId,
          label: found.credential.label,
          response: found.response ?? null,
          held: finding.held,
        }
      : null,
    repeat: found.repeat ?? false,
    where: found.where,
    untrusted: found.where.untrustedUrl === undefined ? null : { fields: ['where.untrustedUrl'], note: UNTRUSTED_NOTE },
    text: leakText(found),
    successor: found.successor ? { id: found.successor, pickup: 'admin' } : null,
  };
}

/**
 * Where an owner's leak notifications go when the runtime has signed webhooks (dependency
 * inversion: leaks never reads the endpoints' table): in the finding's transaction, the owner's
 * endpoints that asked for `key.leaked` get the payload, Standard-Webhooks-signed, through the
 * outbox on {@link LEAK_NOTIFICATION_TOPICS}`.owner`; the principal's legacy `webhookUrl` is taken
 * over as such an endpoint first. Resolves to the deliveries written.
 */
export interface OwnerLeakWebhooks {
  notify(tx: Transaction, owner: { readonly principal: string; readonly legacyUrl: string | null }, target: string, payload: LeakDetectedPayload): Promise<number>;
}

/** The outbox topics of leak notifications, one per recipient. */
export const LEAK_NOTIFICATION_TOPICS = { owner: 'leak.notification.owner', global: 'leak.notification.global' } as const;

/** What an {@link OutboxNotifier} needs: the outbox its messages go to, and the clock. */
export interface OutboxNotifierOptions {
  readonly outbox: Outbox;
  readonly ctx: Context;
  readonly logger?: LeakLogger;
}

/**
 * Leak notifications through the durable outbox: each webhook is a message written in the
 * finding's transaction, delivered by the job runner at least once and once per cluster, retried
 * with backoff, and kept across restarts. Every attempt is a `leak.notified` event, recorded in
 * the transaction that logs the attempt.
 */
export class OutboxNotifier implements LeakNotifier {
  readonly #outbox: Outbox;

  constructor(options: OutboxNotifierOptions) {
    this.#outbox = options.outbox;
    for (const [to, topic] of Object.entries(LEAK_NOTIFICATION_TOPICS) as ['owner' | 'global', string][]) {
      options.outbox.observe(topic, async (tx, message, attempt) => {
        const data = message.data as { url: string; body: string };
        let origin = 'invalid-url';
        try {
          origin = new URL(data.url).origin;
        } catch {
          // keep the placeholder: the URL itself may carry a token
        }
        // An owner's signed webhook wraps the payload: `{ type: 'key.leaked', timestamp, data }`.
        const body = JSON.parse(data.body) as LeakDetectedPayload | { type: 'key.leaked'; data: LeakDetectedPayload };
        const payload = body.type === 'key.leaked' ? body.data : body;
        const finding = payload.finding.id;
        const target = payload.credential?.id ?? payload.key?.id ?? payload.finding.id;
        const failure = attempt.outcome === 'delivered' ? null : (attempt.error ?? 'failed');
        await appendEvent(
          tx,
          options.ctx,
          { type: 'leak.notified', target, outcome: failure ? 'failure' : 'success', reason: failure, data: { finding, to, origin, status: attempt.status } },
          SYSTEM,
        );
        if (failure) options.logger?.warn({ finding, to, origin, failure, attempt: attempt.attempt }, 'leak webhook delivery failed; it is retried');
      });
    }
  }

  async send(tx: Transaction, notifications: readonly LeakNotification[]): Promise<void> {
    for (const n of notifications) {
      await this.#outbox.enqueue(tx, {
        ...webhookMessage({ url: n.url, body: n.payload, headers: { 'user-agent': 'keyturn-leak-notifier', 'keyturn-event': 'leak.detected' } }),
        topic: LEAK_NOTIFICATION_TOPICS[n.to],
        subject: n.target,
      });
    }
  }

  /** Delivers what is due now (the runner does the same on its own) until no notification awaits its first attempt. */
  async idle(): Promise<void> {
    await this.#outbox.firstAttempts(Object.values(LEAK_NOTIFICATION_TOPICS));
  }
}
