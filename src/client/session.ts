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
  /** Client credentials: `client_secret_basic`, or only `clientId` when a TLS client certificate authenticates it. */
  readonly clientId: string;
  readonly clientSecret?: string;
  /** Extra token request parameters (`scope`, `audience`). */
  readonly params?: Readonly<Record<string, string>>;
  /** TLS options of the pinned connection (`ca`, `cert`, `key`, `servername`…); TLS 1.3 is forced. */
  readonly tls?: Omit<AgentOptions, 'keepAlive' | 'maxSockets' | 'minVersion'>;
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
 * ```
 */
export class SessionClient {
  readonly #o: SessionClientOptions;
  readonly #agent: Agent;
  #token: { value: string; socket: TLSSocket } | undefined;
  /** Tokens obtained so far (one per connection). */
  tokens = 0;

  constructor(options: SessionClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'https:') throw new TypeError('SessionClient: url must be https (TLS 1.3)');
    this.#o = options;
    this.#agent = new Agent({ ...options.tls, keepAlive: true, maxSockets: 1, maxFreeSockets: 1, minVersion: 'TLSv1.3' });
  }

  /**
   * Sends a request with the session token as `Authorization: Bearer`. A token is obtained first
   * when there is none or its connection has closed; if the request still lands on another
   * connection (the server closed it between the two), the answer is `invalid_token`, and the
   * request is repeated once with a token obtained on the new connection.
   */
  async request(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<SessionResponse> {
    for (let attempt = 0; ; attempt++) {
      const token = this.#token !== undefined && !this.#token.socket.destroyed ? this.#token : await this.#obtain();
      let used: TLSSocket | undefined;
      const res = await this.#send(method, path, body, { ...headers, authorization: `Bearer ${token.value}` }, (s) => (used = s));
      if (res.status === 401 && used !== token.socket && attempt === 0) {
        this.#token = undefined;
        continue;
      }
      return res;
    }
  }

  /** The current session token, obtained on the pinned connection (a new one after a reconnect). */
  async token(): Promise<string> {
    const t = this.#token !== undefined && !this.#token.socket.destroyed ? this.#token : await this.#obtain();
    return t.value;
  }

  /** Closes the pinned connection. */
  close(): void {
    this.#agent.destroy();
  }

  async #obtain(): Promise<{ value: string; socket: TLSSocket }> {
    const params = new URLSearchParams({ grant_type: 'client_credentials', ...this.#o.params });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (this.#o.clientSecret !== undefined) {
      const form = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
      headers.authorization = `Basic ${Buffer.from(`${form(this.#o.clientId)}:${form(this.#o.clientSecret)}`).toString('base64')}`;
    } else params.set('client_id', this.#o.clientId);
    let socket: TLSSocket | undefined;
    const res = await this.#send('POST', this.#o.tokenPath ?? '/oauth/token', (s) => {
      const digest = exporterDigestOf(s);
      if (digest === undefined) throw new Error('SessionClient: the connection is not TLS 1.3');
      params.set('tls_exporter', digest);
      return params.toString();
    }, headers, (s) => (socket = s));
    if (res.status !== 200) throw new Error(`SessionClient: token request answered ${res.status}: ${res.body.slice(0, 200)}`);
    const value = (JSON.parse(res.body) as { access_token: string }).access_token;
    this.tokens++;
    this.#token = { value, socket: socket! };
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
      req.on('error', reject);
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
