import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { DevCerts } from '../../src/runtime/dev-certs.js';

/** Helpers for the real-TLS binding tests: one HTTPS request on a chosen connection, exporter digests, thumbprints. */

export const pem = (file: string): Buffer => readFileSync(file);
export const thumbprint = (file: string): string => createHash('sha256').update(new X509Certificate(pem(file)).raw).digest('base64url');
export const claims = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, any>;
export const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();
/** base64url SHA-256 of the RFC 9266 `tls-exporter` value of `socket`. */
export const exporter = (socket: TLSSocket): string => createHash('sha256').update(socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0))).digest('base64url');

export interface Answer {
  status: number;
  body: any;
  socket: TLSSocket;
  headers: Record<string, string | string[] | undefined>;
}

export interface CallOptions {
  /** Pins a connection (keep-alive, one socket); without it every call opens its own. */
  agent?: Agent;
  /** The body, or a function of the connected socket (TLS done) that makes it. */
  body?: string | ((s: TLSSocket) => string);
  headers?: Record<string, string>;
  /** The client certificate to present: `certs`'s by default, `null` for none. */
  cert?: DevCerts | null;
  maxVersion?: 'TLSv1.2';
}

/** One HTTPS request trusting `certs`'s CA. */
export function call(certs: DevCerts, url: string, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const cert = options.cert === undefined ? certs : options.cert;
  return new Promise((resolve, reject) => {
    let socket: TLSSocket;
    const req = request(
      new URL(path, url),
      {
        method,
        ca: pem(certs.files['ca.pem']),
        ...(options.agent ? { agent: options.agent } : { agent: false as const }),
        ...(cert ? { cert: pem(cert.files['client.pem']), key: pem(cert.files['client.key']) } : {}),
        ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, socket, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.on('socket', (raw) => {
      socket = raw as TLSSocket;
      const go = () => {
        const body = typeof options.body === 'function' ? options.body(socket) : options.body;
        if (body !== undefined) req.setHeader('content-length', Buffer.byteLength(body));
        req.end(body);
      };
      if (socket.connecting || socket.getProtocol() === null || socket.getProtocol() === 'unknown') socket.once('secureConnect', go);
      else go();
    });
  });
}

/** A `fetch` for the verifier that reaches an HTTPS keyturn trusting `certs`'s CA (no client certificate). */
export function caFetch(certs: DevCerts): typeof globalThis.fetch {
  return (async (input: string | URL, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const body = init.body instanceof URLSearchParams ? init.body.toString() : init.body;
    if (body !== undefined && body !== null && typeof body !== 'string') throw new TypeError('caFetch: string or URLSearchParams bodies only');
    const res = await call(certs, url.origin, init.method ?? 'GET', `${url.pathname}${url.search}`, { cert: null, headers, ...(typeof body === 'string' ? { body } : {}) });
    return new Response(res.body === undefined ? null : JSON.stringify(res.body), { status: res.status, headers: { 'content-type': 'application/json' } });
  }) as typeof globalThis.fetch;
}

/** Opens an HTTP/2 session trusting `certs`'s CA (no client certificate) and waits for its TLS handshake. */
export async function h2open(certs: DevCerts, url: string, options: { maxVersion?: 'TLSv1.2' } = {}): Promise<ClientHttp2Session> {
  const session = h2connect(url, { ca: pem(certs.files['ca.pem']), ...options });
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  return session;
}

/** One request as a stream of `session`: status and JSON body. */
export function h2call(session: ClientHttp2Session, method: string, path: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': method, ':path': path, 'content-type': 'application/x-www-form-urlencoded', ...options.headers });
    let headers: Record<string, unknown> = {};
    let text = '';
    stream.on('response', (h) => (headers = h));
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (text += c));
    stream.on('end', () => resolve({ status: Number(headers[':status']), body: text ? JSON.parse(text) : undefined, headers }));
    stream.on('error', reject);
    stream.end(options.body);
  });
}
