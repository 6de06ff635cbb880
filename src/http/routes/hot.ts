import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TlsChannel } from '../../core/channel.js';
import { OAUTH_PATHS } from '../../oauth/discovery.js';
import type { HotHandlers } from '../hot/handlers.js';
import type { HotAnswer, HotRequest } from '../hot/request.js';
import { channelResolver } from '../hot/client-cert.js';
import { VERIFY_PATH } from '../hot/verify.js';
import type { HttpConfig } from '../services.js';

/** A {@link HotRequest} over a fastify request whose body a string parser kept as text. */
class FastifyHotRequest implements HotRequest {
  readonly #request: FastifyRequest;
  readonly #channel: ReturnType<typeof channelResolver>;

  constructor(request: FastifyRequest, channel: ReturnType<typeof channelResolver>) {
    this.#request = request;
    this.#channel = channel;
  }

  get method(): string {
    return this.#request.method;
  }

  get url(): string {
    return this.#request.url;
  }

  headerValues(name: string): string[] {
    const value = this.#request.headers[name];
    return value === undefined ? [] : Array.isArray(value) ? value : [value];
  }

  header(name: string): string | undefined {
    const value = this.#request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  }

  get body(): string {
    return typeof this.#request.body === 'string' ? this.#request.body : '';
  }

  get sourceIp(): string | null {
    return this.#request.ip ?? null;
  }

  get requestId(): string {
    return this.#request.id;
  }

  get tls(): TlsChannel | undefined {
    return this.#channel(this.#request.raw, () => this.sourceIp);
  }
}

/**
 * The fastify routes of the hot endpoints (`handlers` are built from the services, and shared
 * with the fast path): they serve what the fast path passes on (other media
 * types; `inject`) with the very same handlers. Bodies reach the handler as text: this scope's
 * parsers keep JSON and forms unparsed, and any other media type is refused (415) as elsewhere.
 */
export function hotRoutes(app: FastifyInstance, handlers: HotHandlers, http: HttpConfig, channel = channelResolver(undefined)): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(['application/json', 'application/x-www-form-urlencoded'], { parseAs: 'string', bodyLimit: http.bodyLimit }, (_request, body, done) =>
      done(null, body),
    );
    for (const [path, handler] of [
      [VERIFY_PATH, handlers.verify],
      [OAUTH_PATHS.token, handlers.token],
    ] as const) {
      scope.post(path, async (request, reply) => {
        const answer: HotAnswer = await handler(new FastifyHotRequest(request, channel));
        void reply.code(answer.status);
        for (let i = 0; i < answer.headers.length; i += 2) {
          if (answer.headers[i] !== 'content-length') void reply.header(answer.headers[i]!, answer.headers[i + 1]);
        }
        return reply.send(answer.body);
      });
    }
  });
}
