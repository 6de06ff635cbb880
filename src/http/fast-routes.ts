import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { TlsChannel } from '../core/channel.js';
import { KeyturnError } from '../core/errors.js';
import { OAUTH_PATHS } from '../oauth/discovery.js';
import type { HotHandlers } from './hot/handlers.js';
import { hotRequestLog } from './hot/log.js';
import { errorAnswer, isForm, isJson, type HotAnswer, type HotRequest } from './hot/request.js';
import { sourceAddress, type TrustProxy } from './hot/source.js';
import { channelResolver } from './hot/client-cert.js';

type ChannelResolver = ReturnType<typeof channelResolver>;
import { VERIFY_PATH } from './hot/verify.js';

/**
 * The first value of header `name` (lower case) from the raw list: on the hot path this spares
 * node building the whole `req.headers` object. Same choice as node's for duplicates.
 */
function rawHeader(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length === name.length && key.toLowerCase() === name) return raw[i + 1];
  }
  return undefined;
}

function write(res: ServerResponse, answer: HotAnswer): void {
  res.writeHead(answer.status, answer.headers as string[]);
  res.end(answer.body);
}

/**
 * A {@link HotRequest} over node's `IncomingMessage`. The source address, the request id and the
 * TLS channel are computed when first read: a cached verification reads none of them.
 */
class NodeHotRequest implements HotRequest {
  readonly #req: IncomingMessage;
  readonly #trust: TrustProxy | undefined;
  readonly #nextId: () => string;
  readonly #type: string | undefined;
  readonly #channel: ChannelResolver;
  #id: string | undefined;
  #ip: string | null | undefined;
  readonly body: string;

  constructor(req: IncomingMessage, type: string | undefined, body: string, trust: TrustProxy | undefined, nextId: () => string, channel: ChannelResolver) {
    this.#req = req;
    this.#channel = channel;
    this.#type = type;
    this.#trust = trust;
    this.#nextId = nextId;
    this.body = body;
  }

  get method(): string {
    return this.#req.method ?? 'POST';
  }

  get url(): string {
    return this.#req.url ?? '/';
  }

  headerValues(name: string): string[] {
    const raw = this.#req.rawHeaders;
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
    return out;
  }

  header(name: string): string | undefined {
    // The media type was read to route the request: no second scan of the raw headers.
    return name === 'content-type' ? this.#type : rawHeader(this.#req, name);
  }

  get sourceIp(): string | null {
    if (this.#ip === undefined) this.#ip = sourceAddress(this.#req, this.#trust);
    return this.#ip;
  }

  get requestId(): string {
    this.#id ??= this.#nextId();
    return this.#id;
  }

  get tls(): TlsChannel | undefined {
    return this.#channel(this.#req, () => this.sourceIp);
  }
}

/**
 * Reads a body of at most `limit` bytes and hands it over decoded (whole, so a character split
 * across chunks stays intact); answers 413 itself when it is larger. A body with a
 * `Content-Length` is complete once that many bytes arrived (the parser passes no more), so it is
 * handed over then, with no `end` listener: the stream's end costs a listener and an emit per
 * request for nothing. Only a chunked body waits for `end`.
 */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number, then: (body: string) => void): void {
  const declared = rawHeader(req, 'content-length');
  const expected = declared === undefined ? -1 : Number(declared);
  if (expected > limit) {
    write(res, errorAnswer(new KeyturnError('ERR_BODY_TOO_LARGE', 'request body is too large')));
    req.resume();
    return;
  }
  if (expected === 0) return then('');
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const finish = (): void => {
    settled = true;
    then(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
  };
  req.on('data', (chunk: Buffer) => {
    if (settled) return;
    size += chunk.length;
    if (size > limit) {
      settled = true;
      write(res, errorAnswer(new KeyturnError('ERR_BODY_TOO_LARGE', 'request body is too large')));
      return;
    }
    chunks.push(chunk);
    if (size === expected) finish();
  });
  if (expected < 0) {
    req.on('end', () => {
      if (!settled) finish();
    });
  }
}

export interface FastRoutesOptions {
  readonly handlers: HotHandlers;
  readonly bodyLimit: number;
  /** The trust function behind a trusted proxy (the one fastify has too); `undefined` otherwise. */
  readonly trust: TrustProxy | undefined;
  readonly logRequests: boolean;
  readonly logger: Logger;
  readonly nextRequestId: () => string;
  /** The TLS channel of a request (its connection's, or a trusted proxy's forwarded certificate). */
  readonly channel?: ChannelResolver;
}

/**
 * The pre-routing fast path of the two endpoints machine clients call on every request of theirs
 * — `POST /v1/keys/verify` (JSON) and `POST /oauth/token` (form) — handed to the same hot
 * handlers as their fastify routes (`src/http/hot/`), which serve what this passes on (other
 * media types). On behind a trusted proxy too, with the source address fastify would compute.
 * The handler returns `false` for a request it does not take.
 */
export function fastRoutes(options: FastRoutesOptions) {
  const { handlers, bodyLimit, trust, nextRequestId } = options;
  const channel = options.channel ?? channelResolver(undefined);
  const log = hotRequestLog(options.logger, options.logRequests);

  function run(req: IncomingMessage, res: ServerResponse, type: string | undefined, handler: (request: HotRequest) => HotAnswer | Promise<HotAnswer>): void {
    const startedAt = log === undefined ? 0 : performance.now();
    readBody(req, res, bodyLimit, (body) => {
      const request = new NodeHotRequest(req, type, body, trust, nextRequestId, channel);
      const answer = handler(request);
      if (answer instanceof Promise) {
        answer.then(
          (a) => {
            write(res, a);
            log?.(request, a, startedAt);
          },
          (err: unknown) => {
            options.logger.error({ err, requestId: request.requestId }, 'request failed');
            write(res, errorAnswer(new KeyturnError('ERR_INTERNAL', 'internal error', { cause: err })));
          },
        );
      } else {
        write(res, answer);
        log?.(request, answer, startedAt);
      }
    });
  }

  return function handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST') return false;
    const type = rawHeader(req, 'content-type');
    if (req.url === VERIFY_PATH && isJson(type)) run(req, res, type, handlers.verify);
    else if (req.url === OAUTH_PATHS.token && isForm(type)) run(req, res, type, handlers.token);
    else return false;
    return true;
  };
}
