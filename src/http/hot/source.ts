import proxyAddr from '@fastify/proxy-addr';
import type { IncomingMessage } from 'node:http';

/** Which hops to trust for `X-Forwarded-For`: `(address, hop) => trusted`, as `@fastify/proxy-addr` takes it. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * The trust function for the `trustProxy` setting (`0`: no proxy, `undefined`; a hop count; a list
 * of networks). fastify receives this very function as its `trustProxy` option, and the fast path
 * passes it to the same `@fastify/proxy-addr` fastify uses, so both compute the same `request.ip`:
 * the right-most address that is not a trusted proxy. Nothing trusts every hop: the left-most
 * `X-Forwarded-For` value is whatever the client wrote.
 */
export function trustFunction(trustProxy: number | readonly string[]): TrustProxy | undefined {
  if (typeof trustProxy === 'number') {
    const hops = trustProxy;
    return hops > 0 ? (_address, hop) => hop < hops : undefined;
  }
  return trustProxy.length > 0 ? proxyAddr.compile([...trustProxy]) : undefined;
}

/**
 * The client's address for `req`: the socket's peer, or behind a trusted proxy the last
 * address `X-Forwarded-For` names that is not itself trusted — exactly fastify's `request.ip`.
 */
export function sourceAddress(req: IncomingMessage, trust: TrustProxy | undefined): string | null {
  if (trust === undefined) return req.socket.remoteAddress ?? null;
  const addresses = proxyAddr.all(req, trust);
  return addresses[addresses.length - 1] ?? null;
}
