import proxyAddr from '@fastify/proxy-addr';
import type { IncomingMessage } from 'node:http';
import { X509Certificate } from 'node:crypto';
import { socketChannel, type TlsChannel } from '../../core/channel.js';

/** Headers a TLS-terminating proxy passes the client certificate in. */
const HEADERS = { 'client-cert': 'client-cert', xfcc: 'x-forwarded-client-cert' } as const;

/** Largest certificate header looked at (a DER certificate in base64 is a few KiB). */
const MAX_HEADER = 16 * 1024;

export interface ClientCertForwarding {
  /** Which header carries the certificate (`none`: connections only). */
  readonly header: 'none' | 'client-cert' | 'xfcc';
  /** Networks of the proxies whose header is believed. */
  readonly proxies: readonly string[];
  /** Hears a certificate header from anyone else (it is ignored): the source address and the header name. */
  readonly ignored?: (sourceIp: string | null, header: string) => void;
}

/** DER bytes from an RFC 9440 `Client-Cert` value (an RFC 8941 byte sequence, `:base64:`). */
function fromClientCert(value: string): Uint8Array | undefined {
  const m = /^\s*:([A-Za-z0-9+/]+={0,2}):\s*$/.exec(value);
  return m ? Buffer.from(m[1]!, 'base64') : undefined;
}

/** DER bytes from Envoy's `x-forwarded-client-cert` (`Cert="<URL-encoded PEM>"` of the last element: the hop nearest to us). */
function fromXfcc(value: string): Uint8Array | undefined {
  const elements = value.split(',');
  const last = elements[elements.length - 1] ?? '';
  const m = /(?:^|;)\s*Cert="?([^";]+)"?/i.exec(last);
  if (!m) return undefined;
  try {
    return new X509Certificate(decodeURIComponent(m[1]!)).raw;
  } catch {
    return undefined;
  }
}

/** A {@link TlsChannel} for a certificate the proxy terminated TLS for: no exporter (the session is the proxy's). */
function forwardedChannel(der: Uint8Array): TlsChannel {
  return {
    protocol: null,
    peerCertificate: () => der,
    // The proxy authenticated the TLS connection and vouches for the chain it accepted.
    peerVerified: () => true,
    exportKeyingMaterial: () => undefined,
  };
}

/**
 * The TLS channel the binding checks see for `req`: the connection's own, or — with a certificate
 * header configured and the request from a configured proxy — the certificate the proxy forwards
 * (RFC 9440 `Client-Cert` or Envoy `x-forwarded-client-cert`). From anyone else the header is
 * ignored (the connection's channel is used) and {@link ClientCertForwarding.ignored} hears it.
 * Returns a function of the request so each edge computes it only when read.
 */
export function channelResolver(forwarding: ClientCertForwarding | undefined): (req: IncomingMessage, sourceIp: () => string | null) => TlsChannel | undefined {
  if (forwarding === undefined || forwarding.header === 'none') return (req) => socketChannel(req.socket);
  const name = HEADERS[forwarding.header];
  const trusted = forwarding.proxies.length > 0 ? proxyAddr.compile([...forwarding.proxies]) : () => false;
  const cache = new WeakMap<IncomingMessage, TlsChannel | undefined>();
  return (req, sourceIp) => {
    if (cache.has(req)) return cache.get(req);
    const raw = req.headers[name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    let channel = socketChannel(req.socket);
    if (value !== undefined) {
      if (trusted(req.socket.remoteAddress ?? '', 0)) {
        const der = value.length > MAX_HEADER ? undefined : forwarding.header === 'xfcc' ? fromXfcc(value) : fromClientCert(value);
        // A proxy that forwards nothing usable: no certificate, never the proxy's own connection.
        channel = der === undefined ? undefined : forwardedChannel(der);
      } else {
        forwarding.ignored?.(sourceIp(), name);
      }
    } else if (trusted(req.socket.remoteAddress ?? '', 0)) {
      // From the proxy without the header: the client presented no certificate to the proxy.
      channel = undefined;
    }
    cache.set(req, channel);
    return channel;
  };
}
