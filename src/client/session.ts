import { createHash } from 'node:crypto';
import { Agent, request, type AgentOptions } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { connect, constants as h2, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';
import type { TLSSocket } from 'node:tls';

/**
 * The client side of TLS-session-bound tokens: one pinned TLS 1.3 connection (a keep-alive agent
 * with a single socket, or one HTTP/2 session), a token obtained on it whose `cnf` carries the
 * SHA-256 of that connection's RFC 9266 `tls-exporter` value, and a new token after every
 * reconnect. Imports no server code.
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
  /**
   * Pin one HTTP/2 session (node:http2 `connect`, ALPN `h2`) instead of a keep-alive agent with one
   * socket: concurrent requests become streams of that session, all carrying the one token bound to
   * it. The server must speak HTTP/2 (`http2.createSecureServer`, with or without `allowHTTP1`).
   * When the session ends (the server's GOAWAY or idle timeout, a network error, {@link SessionClient.close}),
   * the next request opens a new one and obtains a new token on it. Default `false`.
   */
  readonly http2?: boolean;
  /** A new token is obtained this long before the current one expires, ms (default 5 000). */
  readonly renewBeforeMs?: number;
}

/** A request error, marked `unsent` when the request cannot have reached the server (so repeating it is safe). */
type ReconnectableError = Error & { unsent?: boolean };

/** A held session token: its value, the connection it is bound to, when to obtain the next one (epoch ms). */
interface Held {
  readonly value: string;
  /** The TLS socket (agent) or the HTTP/2 session the token is bound to. */
  readonly connection: object;
  readonly renewAt: number;
}

/** A request body, or one made from the TLS socket of the connection it goes out on (after the handshake). */
type Body = string | ((socket: TLSSocket) => string) | undefined;

/** How requests reach the server over one pinned connection. */
interface Pin {
  /** One request; `onConnection` hears the connection it goes out on (the identity a token is bound to). */
  send(method: string, url: URL, body: Body, headers: Record<string, string>, onConnection: (connection: object) => void): Promise<SessionResponse>;
  /** Whether `connection` is still open (its token still usable). */
  open(connection: object): boolean;
  close(): void;
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
 *
 * // Over one HTTP/2 session: concurrent requests are its streams, all with the one token.
 * const h2 = new SessionClient({ url: 'https://orders.example', http2: true, session: { path: '/session', credential: apiKey }, tls: { ca } });
 * await Promise.all([h2.request('GET', '/orders'), h2.request('GET', '/stock')]);
 * ```
 */
export class SessionClient {
  readonly #o: SessionClientOptions;
  readonly #pin: Pin;
  #token: Held | undefined;
  /** The token request under way: concurrent requests wait for it rather than each obtaining one. */
  #obtaining: Promise<Held> | undefined;
  /** Tokens obtained so far (one per connection). */
  tokens = 0;

  constructor(options: SessionClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'https:') throw new TypeError('SessionClient: url must be https (TLS 1.3)');
    if (options.session === undefined && !options.clientId) throw new TypeError('SessionClient: give clientId (keyturn\'s token endpoint) or session (an API server\'s session endpoint)');
    this.#o = options;
    this.#pin = options.http2 === true ? new Http2Pin(url, options.tls) : new AgentPin(options.tls);
  }

  /**
   * Sends a request with the session token as `Authorization: Bearer`. A token is obtained first
   * when there is none, its connection has closed or it is about to expire; if the request still
   * lands on another connection (the server closed it between the two), the answer is
   * `invalid_token`, and the request is repeated once with a token obtained on the new connection.
   */
  async request(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<SessionResponse> {
    for (let attempt = 0; ; attempt++) {
      const token = this.#usable() ?? (await this.#next());
      let used: object | undefined;
      let res: SessionResponse;
      try {
        res = await this.#pin.send(method, new URL(path, this.#o.url), body, { ...headers, authorization: `Bearer ${token.value}` }, (c) => (used = c));
      } catch (err) {
        // The server closed the pinned connection as the request went out on it (a keep-alive race,
        // an HTTP/2 GOAWAY or refused stream): nothing reached the server; a new connection needs a new token anyway.
        if (attempt === 0 && (err as ReconnectableError).unsent === true) {
          this.#token = undefined;
          continue;
        }
        throw err;
      }
      if (res.status === 401 && used !== token.connection && attempt === 0) {
        this.#token = undefined;
        continue;
      }
      return res;
    }
  }

  /** The current session token, obtained on the pinned connection (a new one after a reconnect or near its expiry). */
  async token(): Promise<string> {
    return (this.#usable() ?? (await this.#next())).value;
  }

  /** The held token while its connection is open and it is not about to expire. */
  #usable(): Held | undefined {
    const t = this.#token;
    if (t === undefined || !this.#pin.open(t.connection) || Date.now() >= t.renewAt) return undefined;
    return t;
  }

  /** One token request at a time: every caller that finds no usable token waits for the same one. */
  #next(): Promise<Held> {
    this.#obtaining ??= this.#obtain().finally(() => {
      this.#obtaining = undefined;
    });
    return this.#obtaining;
  }

  /** Closes the pinned connection (the agent's socket or the HTTP/2 session); a later request opens a new one. */
  close(): void {
    this.#pin.close();
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
    let connection: object | undefined;
    const path = session?.path ?? this.#o.tokenPath ?? '/oauth/token';
    const res = await this.#pin.send('POST', new URL(path, this.#o.url), (s) => {
      const digest = exporterDigestOf(s);
      if (digest === undefined) throw new Error('SessionClient: the connection is not TLS 1.3');
      params.set('tls_exporter', digest);
      return params.toString();
    }, headers, (c) => (connection = c));
    if (res.status !== 200) throw new SessionTokenError(res.status, res.body);
    const answer = JSON.parse(res.body) as { access_token: string; expires_in?: number };
    this.tokens++;
    const lifetimeMs = typeof answer.expires_in === 'number' ? answer.expires_in * 1000 : Infinity;
    this.#token = { value: answer.access_token, connection: connection!, renewAt: Date.now() + lifetimeMs - Math.min(this.#o.renewBeforeMs ?? 5_000, lifetimeMs / 2) };
    return this.#token;
  }
}

/** One keep-alive socket (node:https `Agent`, `maxSockets: 1`); the connection is the TLS socket. */
class AgentPin implements Pin {
  readonly #agent: Agent;

  constructor(tls: SessionClientOptions['tls']) {
    this.#agent = new Agent({ ...tls, keepAlive: true, maxSockets: 1, maxFreeSockets: 1, minVersion: 'TLSv1.3' });
  }

  open(connection: object): boolean {
    return !(connection as TLSSocket).destroyed;
  }

  close(): void {
    this.#agent.destroy();
  }

  send(method: string, url: URL, body: Body, headers: Record<string, string>, onConnection: (connection: object) => void): Promise<SessionResponse> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      // ECONNRESET on a reused socket: the server closed the idle connection as the request went out.
      req.on('error', (err) => reject(Object.assign(err, { unsent: req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET' })));
      req.on('socket', (raw) => {
        const socket = raw as TLSSocket;
        const go = (): void => {
          onConnection(socket);
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

/** Errors node:http2 gives a request that never reached the server: repeating it is safe (RFC 9113 §8.7). */
const UNSENT_CODES = new Set(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION']);

/** The TLS alert a server that offers no HTTP/2 answers node:http2's ALPN offer (`h2` alone) with. */
const noHttp2 = (err: Error): boolean => (err as NodeJS.ErrnoException).code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL';

/**
 * One HTTP/2 session (node:http2 `connect`); the connection is the session. Its TLS socket is
 * `session.socket` (a proxy node:http2 hands out), whose exporter is the one the server sees for
 * every stream of the session. Opened on first use and again after it ends; kept referenced only
 * while requests are in flight, so an idle pinned session does not hold the process open.
 */
class Http2Pin implements Pin {
  readonly #origin: string;
  readonly #tls: SessionClientOptions['tls'];
  #session: ClientHttp2Session | undefined;
  #opening: Promise<ClientHttp2Session> | undefined;
  #inFlight = 0;

  constructor(url: URL, tls: SessionClientOptions['tls']) {
    this.#origin = url.origin;
    this.#tls = tls;
  }

  open(connection: object): boolean {
    const session = connection as ClientHttp2Session;
    return !session.closed && !session.destroyed;
  }

  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }

  #current(): Promise<ClientHttp2Session> {
    const held = this.#session;
    if (held !== undefined && this.open(held)) return Promise.resolve(held);
    this.#opening ??= new Promise<ClientHttp2Session>((resolve, reject) => {
      const session = connect(this.#origin, { ...(this.#tls as SecureClientSessionOptions), minVersion: 'TLSv1.3' });
      const failed = (err: Error): void => reject(noHttp2(err) ? new Error(`SessionClient: ${this.#origin} does not offer HTTP/2 (ALPN h2); use http2: false there`, { cause: err }) : err);
      session.once('error', failed);
      session.once('connect', () => {
        session.off('error', failed);
        // Later session errors reach the streams in flight (and end the session: the next request reconnects).
        session.on('error', () => undefined);
        if (this.#inFlight === 0) session.unref();
        this.#session = session;
        resolve(session);
      });
    }).finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async send(method: string, url: URL, body: Body, headers: Record<string, string>, onConnection: (connection: object) => void): Promise<SessionResponse> {
    this.#inFlight++;
    let session: ClientHttp2Session | undefined;
    try {
      session = await this.#current();
      session.ref();
      onConnection(session);
      const text = typeof body === 'function' ? body(session.socket as TLSSocket) : body;
      return await exchange(session, method, url, text, headers);
    } finally {
      if (--this.#inFlight === 0 && session !== undefined && this.open(session)) session.unref();
    }
  }
}

/** One request as a stream of `session`. */
function exchange(session: ClientHttp2Session, method: string, url: URL, body: string | undefined, headers: Record<string, string>): Promise<SessionResponse> {
  return new Promise((resolve, reject) => {
    const unsent = (err: Error): Error => Object.assign(err, { unsent: true });
    let stream;
    try {
      stream = session.request({
        ...headers,
        [h2.HTTP2_HEADER_METHOD]: method,
        [h2.HTTP2_HEADER_PATH]: `${url.pathname}${url.search}`,
        ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
      });
    } catch (err) {
      // The session is closing (GOAWAY) or gone: the stream was never opened.
      reject(UNSENT_CODES.has((err as NodeJS.ErrnoException).code ?? '') ? unsent(err as Error) : err);
      return;
    }
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[h2.HTTP2_HEADER_STATUS]);
      const { [h2.HTTP2_HEADER_STATUS]: _status, ...rest } = h;
      responseHeaders = rest as IncomingHttpHeaders;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks).toString('utf8') }));
    stream.on('error', (err: NodeJS.ErrnoException) => {
      // REFUSED_STREAM, or a GOAWAY that left this stream unprocessed: the server did not act on it.
      const refused = stream.rstCode === h2.NGHTTP2_REFUSED_STREAM || UNSENT_CODES.has(err.code ?? '');
      reject(refused && status === 0 ? unsent(err) : err);
    });
    stream.end(body);
  });
}
