import { createHash } from 'node:crypto';
import { Agent, request, type AgentOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/**
 * The client side of TLS-session-bound tokens: one pinned TLS 1.3 connection (a keep-alive agent
 * with a single socket), a token obtained on it whose `cnf` carries the SHA-256 of that
 * connection's RFC 9266 `tls-exporter` value, and a new token after every reconnect. Imports no
 * server code.
 */

/** RFC 9266: label and length of the `tls-exporter` channel binding. */
const LABEL = 'EXPORTER-Channel-Binding';

/** base64url SHA-256 of the connection's `tls-exporter` value; `undefined` unless it is TLS 1.3. */
export function exporterDigestOf(socket: TLSSocket): string | undefined {
  if (socket.getProtocol() !== 'TLSv1.3') return undefined;
  return createHash('sha256').update(socket.exportKeyingMaterial(32, LABEL, Buffer.alloc(0))).digest('base64url');
}

export interface SessionClientOptions {
  /** Base URL of the server that issues and accepts the tokens (`https://…`). */
  readonly url: string;
  /** Path of its token endpoint (default `/oauth/token`). */
  readonly tokenPath?: string;
  /**
   * Client credentials at keyturn's token endpoint: `client_secret_basic`, or only `clientId` when a
   * TLS client certificate authenticates it. Not used with {@link session}.
   */
  readonly clientId?: string;
  readonly clientSecret?: string;
  /**
   * Obtain session tokens from an API server's session endpoint (`keyturn/verifier`'s
   * `createSessionEndpoint`) instead of keyturn's token endpoint: `path` on {@link url}, and the
   * keyturn access token or API key to exchange there (a function is called for each new session
   * token, e.g. to return a freshly rotated key).
   */
  readonly session?: { readonly path: string; readonly credential: string | (() => string | Promise<string>) };
  /** Extra token request parameters (`scope`, `audience`). */
  readonly params?: Readonly<Record<string, string>>;
  /** TLS options of the pinned connection (`ca`, `cert`, `key`, `servername`…); TLS 1.3 is forced. */
  readonly tls?: Omit<AgentOptions, 'keepAlive' | 'maxSockets' | 'minVersion'>;
  /** A new token is obtained this long before the current one expires, ms (default 5 000). */
  readonly renewBeforeMs?: number;
}

/** A request error, marked when it happened on a kept-alive connection (node's `request.reusedSocket`). */
type ReconnectableError = Error & { reusedSocket?: boolean };

/** A held session token: its value, the connection it is bound to, when to obtain the next one (epoch ms). */
interface Held {
  readonly value: string;
  readonly socket: TLSSocket;
  readonly renewAt: number;
}

/** The token request was refused: the status and the server's error (`error` of its JSON answer, if any). */
export class SessionTokenError extends Error {
  readonly status: number;
  readonly error: string | undefined;
  constructor(status: number, body: string) {
    let error: string | undefined;
    try {
      const parsed = JSON.parse(body) as { error?: unknown };
      error = typeof parsed.error === 'string' ? parsed.error : undefined;
    } catch {
      error = undefined;
    }
    super(`SessionClient: token request answered ${status}${error === undefined ? '' : ` ${error}`}`);
    this.name = 'SessionTokenError';
    this.status = status;
    this.error = error;
  }
}

export interface SessionResponse {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/**
 * A client whose every request goes over one TLS 1.3 connection, carrying a token bound to it.
 *
 * @example
 * ```ts
 * import { SessionClient } from 'keyturn/client';
 * const api = new SessionClient({ url: 'https://api.example', clientId, clientSecret, tls: { ca } });
 * const res = await api.request('GET', '/v1/things');
 * api.close();
 *
 * // At an API server's session endpoint (keyturn/verifier's createSessionEndpoint), with a keyturn token or API key:
 * const orders = new SessionClient({ url: 'https://orders.example', session: { path: '/session', credential: apiKey }, tls: { ca } });
 * ```
 */
export class SessionClient {
  readonly #o: SessionClientOptions;
  readonly #agent: Agent;
  #token: Held | undefined;
  /** Tokens obtained so far (one per connection). */
  tokens = 0;

  constructor(options: SessionClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'https:') throw new TypeError('SessionClient: url must be https (TLS 1.3)');
    if (options.session === undefined && !options.clientId) throw new TypeError('SessionClient: give clientId (keyturn\'s token endpoint) or session (an API server\'s session endpoint)');
    this.#o = options;
    this.#agent = new Agent({ ...options.tls, keepAlive: true, maxSockets: 1, maxFreeSockets: 1, minVersion: 'TLSv1.3' });
  }

  /**
   * Sends a request with the session token as `Authorization: Bearer`. A token is obtained first
   * when there is none, its connection has closed or it is about to expire; if the request still
   * lands on another connection (the server closed it between the two), the answer is
   * `invalid_token`, and the request is repeated once with a token obtained on the new connection.
   */
  async request(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<SessionResponse> {
    for (let attempt = 0; ; attempt++) {
      const token = this.#usable() ?? (await this.#obtain());
      let used: TLSSocket | undefined;
      let res: SessionResponse;
      try {
        res = await this.#send(method, path, body, { ...headers, authorization: `Bearer ${token.value}` }, (s) => (used = s));
      } catch (err) {
        // The server closed the idle pinned connection as the request went out on it (keep-alive race):
        // nothing reached the server; a new connection needs a new token anyway.
        if (attempt === 0 && (err as ReconnectableError).reusedSocket === true && (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
          this.#token = undefined;
          continue;
        }
        throw err;
      }
      if (res.status === 401 && used !== token.socket && attempt === 0) {
        this.#token = undefined;
        continue;
      }
      return res;
    }
  }

  /** The current session token, obtained on the pinned connection (a new one after a reconnect or near its expiry). */
  async token(): Promise<string> {
    return (this.#usable() ?? (await this.#obtain())).value;
  }

  /** The held token while its connection is open and it is not about to expire. */
  #usable(): Held | undefined {
    const t = this.#token;
    if (t === undefined || t.socket.destroyed || Date.now() >= t.renewAt) return undefined;
    return t;
  }

  /** Closes the pinned connection. */
  close(): void {
    this.#agent.destroy();
  }

  async #obtain(): Promise<Held> {
    const session = this.#o.session;
    const params = new URLSearchParams(session === undefined ? { grant_type: 'client_credentials', ...this.#o.params } : { ...this.#o.params });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (session !== undefined) {
      const credential = typeof session.credential === 'string' ? session.credential : await session.credential();
      headers.authorization = `Bearer ${credential}`;
    } else if (this.#o.clientSecret !== undefined) {
      const form = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
      headers.authorization = `Basic ${Buffer.from(`${form(this.#o.clientId!)}:${form(this.#o.clientSecret)}`).toString('base64')}`;
    } else params.set('client_id', this.#o.clientId!);
    let socket: TLSSocket | undefined;
    const path = session?.path ?? this.#o.tokenPath ?? '/oauth/token';
    const res = await this.#send('POST', path, (s) => {
      const digest = exporterDigestOf(s);
      if (digest === undefined) throw new Error('SessionClient: the connection is not TLS 1.3');
      params.set('tls_exporter', digest);
      return params.toString();
    }, headers, (s) => (socket = s));
    if (res.status !== 200) throw new SessionTokenError(res.status, res.body);
    const answer = JSON.parse(res.body) as { access_token: string; expires_in?: number };
    this.tokens++;
    const lifetimeMs = typeof answer.expires_in === 'number' ? answer.expires_in * 1000 : Infinity;
    this.#token = { value: answer.access_token, socket: socket!, renewAt: Date.now() + lifetimeMs - Math.min(this.#o.renewBeforeMs ?? 5_000, lifetimeMs / 2) };
    return this.#token;
  }

  /** One request on the agent; `body` may be computed from the socket once it is connected (TLS done). */
  #send(
    method: string,
    path: string,
    body: string | ((socket: TLSSocket) => string) | undefined,
    headers: Record<string, string>,
    onSocket: (socket: TLSSocket) => void,
  ): Promise<SessionResponse> {
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.#o.url), { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.on('socket', (raw) => {
        const socket = raw as TLSSocket;
        const go = (): void => {
          onSocket(socket);
          try {
            const text = typeof body === 'function' ? body(socket) : body;
            if (text !== undefined) req.setHeader('content-length', Buffer.byteLength(text));
            req.end(text);
          } catch (err) {
            req.destroy(err as Error);
          }
        };
        // Before the handshake ends `getProtocol()` is `null` (connecting) or `unknown`.
        const protocol = socket.connecting ? null : socket.getProtocol();
        if (protocol === null || protocol === 'unknown') socket.once('secureConnect', go);
        else go();
      });
    });
  }
}
