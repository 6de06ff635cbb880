/**
 * The signed-webhook sink's transport: each batch of canonical records is one HTTP POST whose body
 * is a Standard Webhooks payload (`{ type, timestamp, data }`), signed exactly as the rotation
 * webhooks sign theirs — `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<HMAC-SHA256>`
 * under a `whsec_` secret — through the rotation capability's public entry.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { KeyturnError } from '../../core/errors.js';
import { webhookHeaders } from '../../rotation/index.js';
import type { Transport } from './transports.js';

/** The `type` of every audit webhook body. */
export const AUDIT_WEBHOOK_TYPE = 'audit.events';

export interface WebhookTransportOptions {
  /** Where batches are POSTed (http or https). */
  readonly url: string;
  /** The `whsec_…` secret the batches are signed with (in memory only; sealed at rest). */
  readonly secret: string;
  /** The sink's name, in each body (`data.sink`). */
  readonly sink: string;
  /** The time of an attempt (its `webhook-timestamp`). */
  readonly now: () => Date;
  /** Request timeout (ms, default 10 s). */
  readonly timeoutMs?: number;
  /** Resolves the host through the egress guard (the addresses checked are the ones connected to). */
  readonly lookup?: LookupFunction | undefined;
}

/**
 * The body of one batch: `{"type":"audit.events","timestamp":<time of its last record>,"data":{"sink":…,"records":[…]}}`.
 * Made only from the records, so a retried batch is byte for byte the same body under the same
 * `webhook-id` (a receiver drops the duplicate), with a fresh `webhook-timestamp` and signature.
 */
export function auditWebhookBody(sink: string, messages: readonly string[]): { id: string; body: string } {
  let last = new Date(0).toISOString();
  try {
    const parsed = JSON.parse(messages[messages.length - 1]!) as { time?: unknown };
    if (typeof parsed.time === 'string') last = parsed.time;
  } catch {
    // A record that is not JSON cannot come from the formatter; the epoch marks it.
  }
  const body = `{"type":${JSON.stringify(AUDIT_WEBHOOK_TYPE)},"timestamp":${JSON.stringify(last)},"data":{"sink":${JSON.stringify(sink)},"records":[${messages.join(',')}]}}`;
  const id = `msg_${createHash('sha256').update(sink).update('\n').update(body).digest('base64url').slice(0, 32)}`;
  return { id, body };
}

/**
 * POSTs each batch, signed; a 2xx answer is delivered, anything else (or no answer) fails and the
 * dispatcher retries the batch with backoff. Errors name the failure, never the URL (its path or
 * query may carry a token), and never a header.
 */
export class WebhookTransport implements Transport {
  readonly #options: WebhookTransportOptions;
  readonly #url: URL;

  constructor(options: WebhookTransportOptions) {
    this.#options = options;
    this.#url = new URL(options.url);
    if (this.#url.protocol !== 'https:' && this.#url.protocol !== 'http:') throw new KeyturnError('ERR_VALIDATION', 'a webhook sink URL is http: or https:');
  }

  async send(messages: readonly string[], signal: AbortSignal): Promise<void> {
    if (messages.length === 0) return;
    signal.throwIfAborted();
    const { id, body } = auditWebhookBody(this.#options.sink, messages);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'keyturn-audit',
      'content-length': String(Buffer.byteLength(body)),
      ...webhookHeaders([this.#options.secret], id, this.#options.now(), body),
    };
    const status = await new Promise<number>((resolve, reject) => {
      const lib = this.#url.protocol === 'https:' ? https : http;
      const req = lib.request(this.#url, { method: 'POST', headers, signal, timeout: this.#options.timeoutMs ?? 10_000, ...(this.#options.lookup ? { lookup: this.#options.lookup } : {}) }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new KeyturnError('ERR_UPSTREAM', 'webhook sink: no answer in time')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof KeyturnError) return reject(err);
        if (err.code === 'EGRESS_FORBIDDEN') return reject(new KeyturnError('ERR_UPSTREAM', 'webhook sink: the host resolves to an address keyturn does not reach'));
        if (err.name === 'AbortError') return reject(err);
        reject(new KeyturnError('ERR_UPSTREAM', `webhook sink: unreachable (${err.code ?? 'error'})`));
      });
      req.end(body);
    });
    if (status < 200 || status >= 300) throw new KeyturnError('ERR_UPSTREAM', `webhook sink answered HTTP ${status}`);
  }

  async close(): Promise<void> {}
}
