import type { RequestMeta } from '../../audit/events.js';
import type { TlsChannel } from '../../core/channel.js';
import { KeyturnError } from '../../core/errors.js';
import { errorResponse } from '../errors.js';

/**
 * One request to a hot endpoint, independent of the HTTP framework that received it. Both edges
 * build one: the pre-routing fast path (`src/http/fast-routes.ts`) and the fastify routes.
 */
export interface HotRequest {
  readonly method: string;
  readonly url: string;
  /** The first value of header `name` (lower case), or `undefined`. */
  header(name: string): string | undefined;
  /** Every value of header `name` (lower case), when the edge can tell repeated headers apart. */
  headerValues?(name: string): string[];
  /** The whole body, decoded as UTF-8 (the edge has enforced the body limit). */
  readonly body: string;
  /**
   * The client's address; behind a trusted proxy the one `X-Forwarded-For` names, computed as
   * fastify computes `request.ip`. Edges compute it only when read (failures and token requests).
   */
  readonly sourceIp: string | null;
  /** The request id, from the same generator as every other request's. */
  readonly requestId: string;
  /** The TLS connection the request came on; `undefined` on plain HTTP. */
  readonly tls: TlsChannel | undefined;
}

/**
 * A whole answer, ready to write: status, headers as a flat `[name, value, …]` list (lower-case
 * names, `content-length` included) and the body text.
 */
export interface HotAnswer {
  readonly status: number;
  readonly headers: readonly string[];
  readonly body: string;
}

/** A handler of a hot endpoint: a cached answer comes back synchronously, anything else as a promise. */
export type HotHandler = (request: HotRequest) => HotAnswer | Promise<HotAnswer>;

const JSON_HEADERS = ['content-type', 'application/json; charset=utf-8', 'cache-control', 'no-store'] as const;

/** A JSON answer with `no-store` and the body's length; `extra` adds headers (name, value, …). */
export function jsonAnswer(status: number, body: string, extra: readonly string[] = []): HotAnswer {
  return { status, headers: [...JSON_HEADERS, ...extra, 'content-length', String(Buffer.byteLength(body))], body };
}

/** The RFC 6749/6750 error answer for `err`, as {@link errorResponse} builds it. */
export function errorAnswer(err: KeyturnError): HotAnswer {
  const { status, headers, body } = errorResponse(err);
  const text = JSON.stringify(body);
  const list = ['content-type', 'application/json; charset=utf-8'];
  for (const [name, value] of Object.entries(headers)) list.push(name, value);
  list.push('content-length', String(Buffer.byteLength(text)));
  return { status, headers: list, body: text };
}

/** Who made a hot request, for events: anonymous, from its source address. */
export function hotMeta(request: HotRequest): RequestMeta {
  return { actor: null, actorKind: null, sourceIp: request.sourceIp, requestId: request.requestId };
}

/** Anything unexpected as a {@link KeyturnError} (`ERR_INTERNAL` keeps the cause for the log). */
export function asKeyturnError(err: unknown): KeyturnError {
  return err instanceof KeyturnError ? err : new KeyturnError('ERR_INTERNAL', 'internal error', { cause: err });
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;

/** Whether `type` (a `Content-Type` value) is JSON. */
export function isJson(type: string | undefined): boolean {
  return type !== undefined && (type === 'application/json' || JSON_TYPE.test(type));
}

/** Whether `type` (a `Content-Type` value) is an HTML form. */
export function isForm(type: string | undefined): boolean {
  return type !== undefined && FORM_TYPE.test(type);
}
