import { appendEvent, SYSTEM } from '../../audit/index.js';
import type { Context } from '../../core/context.js';
import type { Store } from '../../store/port.js';
import type { FindingRecord } from './findings-store.js';
import type { Sighting } from './finding.js';

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
  readonly where: Sighting;
  /** Offered once the rotation capability exists; until then the owner creates a new key. */
  readonly successor: null;
}

/** One webhook delivery to make. */
export interface LeakNotification {
  readonly url: string;
  readonly to: 'owner' | 'global';
  /** The target of the `leak.notified` event: the key's id, or the finding's when no key of ours is involved. */
  readonly target: string;
  readonly payload: LeakDetectedPayload;
}

/**
 * Where the responder hands the notifications of a new finding, once the finding's transaction
 * has committed. {@link WebhookNotifier} sends them at once from memory; a durable outbox can
 * take its place behind this interface.
 */
export interface LeakNotifier {
  /** Takes the deliveries of one new finding. Never throws: failures are the notifier's to record. */
  send(notifications: readonly LeakNotification[]): void;
  /** Resolves when every delivery handed over so far has finished. */
  idle(): Promise<void>;
}

/** The facts of a new finding the notifications are made of. */
export interface NewFinding {
  readonly finding: FindingRecord;
  /** The key of ours the secret is, with its owner's webhook, if any. */
  readonly key?: { readonly id: string; readonly name: string; readonly start: string; readonly principal: string; readonly ownerWebhook: string | null };
  readonly action: 'suspended' | 'revoked' | 'none';
  readonly where: Sighting;
  /** When it was first seen (ms since the epoch). */
  readonly at: number;
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
  const { finding, key } = found;
  const time = new Date(found.at).toISOString();
  const payload: LeakDetectedPayload = {
    type: 'leak.detected',
    time,
    finding: { id: finding.id, fingerprint: finding.fingerprint, kind: finding.kind, rule: finding.rule, status: finding.status, firstSeen: time },
    key: key ? { id: key.id, name: key.name, start: key.start, principal: key.principal, action: found.action } : null,
    where: found.where,
    successor: null,
  };
  const target = finding.keyId ?? finding.id;
  const list: LeakNotification[] = [];
  if (key?.ownerWebhook) list.push({ url: key.ownerWebhook, to: 'owner', target, payload });
  if (globalWebhook) list.push({ url: globalWebhook, to: 'global', target, payload });
  return list;
}

/** What a {@link WebhookNotifier} needs: the store its `leak.notified` events go to, and bounds. */
export interface WebhookNotifierOptions {
  readonly store: Store;
  readonly ctx: Context;
  /** Per delivery; 5 s by default. */
  readonly timeoutMs?: number;
  readonly logger?: LeakLogger;
  /** For tests; the global `fetch` by default. */
  readonly fetch?: typeof fetch;
}

/**
 * Delivers each notification once, in the background, right away: one POST with a timeout,
 * never following redirects. Each outcome is a `leak.notified` event. Nothing is retried, and a
 * delivery in flight when the process dies is lost.
 */
export class WebhookNotifier implements LeakNotifier {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #timeoutMs: number;
  readonly #logger: LeakLogger | undefined;
  readonly #fetch: typeof fetch;
  readonly #pending = new Set<Promise<void>>();

  constructor(options: WebhookNotifierOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#logger = options.logger;
    this.#fetch = options.fetch ?? fetch;
  }

  send(notifications: readonly LeakNotification[]): void {
    for (const n of notifications) {
      const delivery = this.#deliver(n);
      this.#pending.add(delivery);
      void delivery.finally(() => this.#pending.delete(delivery));
    }
  }

  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** One POST; the outcome becomes a `leak.notified` event. */
  async #deliver(n: LeakNotification): Promise<void> {
    let status: number | null = null;
    let failure: string | null = null;
    try {
      const response = await this.#fetch(n.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'keyturn-leak-notifier', 'keyturn-event': 'leak.detected' },
        body: JSON.stringify(n.payload),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.status;
      await response.body?.cancel().catch(() => undefined);
      if (status < 200 || status >= 300) failure = `HTTP ${status}`;
    } catch (err) {
      failure = (err as Error)?.name === 'TimeoutError' ? 'timeout' : 'unreachable';
    }
    let origin = 'invalid-url';
    try {
      origin = new URL(n.url).origin;
    } catch {
      // keep the placeholder: the URL itself may carry a token
    }
    const finding = n.payload.finding.id;
    try {
      await this.#store.transaction((tx) =>
        appendEvent(
          tx,
          this.#ctx,
          { type: 'leak.notified', target: n.target, outcome: failure ? 'failure' : 'success', reason: failure, data: { finding, to: n.to, origin, status } },
          SYSTEM,
        ),
      );
    } catch (err) {
      this.#logger?.warn({ err, finding, to: n.to }, 'could not record a leak notification');
    }
    if (failure) this.#logger?.warn({ finding, to: n.to, origin, failure }, 'leak webhook delivery failed');
  }
}
