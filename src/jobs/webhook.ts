import { KeyturnError } from '../core/errors.js';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { EgressGuard } from './egress.js';
import type { Deliverer, OutboxMessage } from './outbox.js';

/** A stored webhook: where to POST, the JSON body as text (sent byte for byte), extra headers. */
export interface WebhookRequest {
  readonly url: string;
  /** The JSON body, serialised once at enqueue so that every attempt (and any signature) sees the same bytes. */
  readonly body: string;
  /** Extra request headers (never a secret: they are stored). `content-type` is always `application/json`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** What the signer signs with (a non-secret reference, e.g. a webhook endpoint's id); none: the signer decides. */
  readonly signWith?: string;
}

/** What a signer is given to sign one attempt. */
export interface WebhookSigningInput {
  /** The outbox message id: the same on every attempt (Standard Webhooks' `webhook-id`). */
  readonly messageId: string;
  readonly attempt: number;
  /** The time of this attempt. */
  readonly timestamp: Date;
  readonly url: string;
  readonly body: string;
  /** The message's {@link WebhookRequest.signWith}. */
  readonly signWith?: string;
}

/**
 * Adds headers that authenticate one attempt (e.g. Standard Webhooks' `webhook-id`,
 * `webhook-timestamp`, `webhook-signature`). Signing keys live with the signer, never in the message.
 */
export type WebhookSigner = (input: WebhookSigningInput) => Promise<Record<string, string>> | Record<string, string>;

export interface WebhookDelivererOptions {
  /** How long one attempt may take (ms, default 5000). */
  readonly timeoutMs?: number;
  /** The time of an attempt, for the signer (default: the real clock). */
  readonly now?: () => Date;
  readonly signer?: WebhookSigner;
  readonly userAgent?: string;
  /** Checks the receiver's address before each attempt (DNS rebinding); none: not checked. */
  readonly egress?: EgressGuard;
  /** For tests; the global `fetch` by default. */
  readonly fetch?: typeof fetch;
}

const MAX_URL = 2048;

/**
 * A webhook outbox message: `body` (any JSON value) is serialised here, once.
 *
 * @example
 * ```ts
 * await outbox.enqueue(tx, { ...webhookMessage({ url, body: payload, headers: { 'keyturn-event': 'leak.detected' } }), topic: 'leak.notification', subject: findingId });
 * ```
 */
export function webhookMessage(input: { url: string; body: unknown; headers?: Readonly<Record<string, string>>; signWith?: string }): OutboxMessage<'webhook'> {
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new KeyturnError('ERR_VALIDATION', 'webhook url: not a URL');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || input.url.length > MAX_URL) {
    throw new KeyturnError('ERR_VALIDATION', 'webhook url: an http(s) URL of at most 2048 characters');
  }
  const body = JSON.stringify(input.body);
  if (body === undefined) throw new KeyturnError('ERR_VALIDATION', 'webhook body: must be JSON');
  return {
    kind: 'webhook',
    data: { url: input.url, body, ...(input.headers === undefined ? {} : { headers: { ...input.headers } }), ...(input.signWith === undefined ? {} : { signWith: input.signWith }) },
  };
}

/**
 * The `webhook` deliverer: one HTTP POST of the JSON body with the message's headers (plus
 * `keyturn-message-id`, stable across attempts, for receivers to drop duplicates, and the signer's
 * headers), a timeout, no redirects followed. A 2xx answer is delivered; anything else fails and is
 * retried. Errors name the failure (`timeout`, `unreachable`, `HTTP 503`), never the URL, which may
 * carry a token.
 */
export function webhookDeliverer(options: WebhookDelivererOptions = {}): Deliverer<'webhook'> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const now = options.now ?? (() => new Date());
  const doFetch = options.fetch ?? fetch;
  return async ({ id, attempt, data, signal }) => {
    let url: URL;
    try {
      url = new URL(data.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    } catch {
      return { ok: false, error: 'invalid-url', permanent: true };
    }
    // Resolved again at each attempt: a name registered public may point somewhere private now.
    if (options.egress && (await options.egress.forbidden(url.hostname))) return { ok: false, error: 'forbidden-address' };
    let headers: Record<string, string>;
    try {
      headers = {
        'user-agent': options.userAgent ?? 'keyturn-webhook',
        ...data.headers,
        'content-type': 'application/json',
        'keyturn-message-id': id,
        ...(options.signer ? await options.signer({ messageId: id, attempt, timestamp: now(), url: data.url, body: data.body, ...(data.signWith === undefined ? {} : { signWith: data.signWith }) }) : {}),
      };
    } catch {
      return { ok: false, error: 'signing failed' };
    }
    let status: number;
    try {
      if (options.egress) {
        // Connects to the addresses the guard checked, through its lookup (no rebinding in between).
        status = await pinnedPost(url, { headers, body: data.body, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }, options.egress.lookup);
        return status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `HTTP ${status}` };
      }
      const response = await doFetch(url, {
        method: 'POST',
        headers,
        body: data.body,
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      status = response.status;
      await response.body?.cancel().catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException | undefined)?.code === 'EGRESS_FORBIDDEN') return { ok: false, error: 'forbidden-address' };
      const name = (err as Error | undefined)?.name;
      if (name === 'TimeoutError') return { ok: false, error: 'timeout' };
      if (name === 'AbortError') return { ok: false, error: 'aborted' };
      if (err instanceof TypeError && /header/i.test(err.message)) return { ok: false, error: 'invalid-header', permanent: true };
      return { ok: false, error: 'unreachable' };
    }
    return status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `HTTP ${status}` };
  };
}

/**
 * One POST over `node:http(s)` with the egress guard's `lookup`, so the connection goes to an
 * address the guard approved (`fetch` offers no such hook without a dependency). Answers the
 * status; rejects as `fetch` would (`TimeoutError`, `AbortError`, a `TypeError` for a bad header).
 * No redirect is followed.
 */
function pinnedPost(url: URL, init: { headers: Record<string, string>; body: string; signal: AbortSignal }, lookup: EgressGuard['lookup']): Promise<number> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const aborted = () => {
      const reason = init.signal.reason as { name?: string } | undefined;
      return reason?.name === 'TimeoutError' ? (reason as Error) : Object.assign(new Error('aborted'), { name: 'AbortError' });
    };
    if (init.signal.aborted) return reject(aborted());
    let req: ReturnType<typeof httpRequest>;
    try {
      req = send(url, { method: 'POST', headers: { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) }, lookup });
    } catch (err) {
      return reject(err);
    }
    const abort = () => {
      req.destroy();
      reject(aborted());
    };
    init.signal.addEventListener('abort', abort, { once: true });
    req.on('response', (res) => {
      init.signal.removeEventListener('abort', abort);
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => {
      init.signal.removeEventListener('abort', abort);
      reject(err);
    });
    req.end(init.body);
  });
}
