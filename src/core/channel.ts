import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

/**
 * What a request's TLS connection offers the binding checks, without handing them the socket:
 * the peer certificate (RFC 8705) and the keying material exporter (RFC 5705 / RFC 9266).
 * The edge builds one per connection; values are computed on first use and kept.
 */
export interface TlsChannel {
  /** `TLSv1.3`, `TLSv1.2`, … as negotiated. */
  readonly protocol: string | null;
  /** DER bytes of the client certificate the peer presented, if any. */
  peerCertificate(): Uint8Array | undefined;
  /**
   * Whether the peer certificate chains to a configured client CA (`tlsClientCa`); a self-signed
   * certificate is presented but not verified. Certificates are requested, never required, so the
   * handshake itself accepts either.
   */
  peerVerified(): boolean;
  /**
   * `length` bytes exported under `label` with an empty context (RFC 9266 uses
   * `EXPORTER-Channel-Binding`, 32 bytes); `undefined` when the connection cannot export.
   */
  exportKeyingMaterial(length: number, label: string): Uint8Array | undefined;
}

/** RFC 9266: the exporter label of the `tls-exporter` channel binding, 32 bytes, empty context. */
export const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
export const EXPORTER_LENGTH = 32;

/** `cnf` member of a certificate-bound token (RFC 8705 §3.1): base64url SHA-256 of the certificate's DER. */
export const CNF_X5T = 'x5t#S256';
/**
 * `cnf` member of a TLS-session-bound token (keyturn's; RFC 7800 §3 allows new members): base64url
 * SHA-256 of the connection's RFC 9266 `tls-exporter` value.
 */
export const CNF_TLS_EXPORTER = 'tls_exporter#S256';

const thumbprints = new WeakMap<Uint8Array, string>();

/** base64url SHA-256 of a DER certificate: its `x5t#S256` (RFC 8705 §3.1, RFC 7515 §4.1.8); cached per buffer. */
export function certificateThumbprint(der: Uint8Array): string {
  let t = thumbprints.get(der);
  if (t === undefined) {
    t = createHash('sha256').update(der).digest('base64url');
    thumbprints.set(der, t);
  }
  return t;
}

/** base64url SHA-256 of an exporter value: what a session-bound token's `cnf` carries. */
export function exporterDigest(material: Uint8Array): string {
  return createHash('sha256').update(material).digest('base64url');
}

/**
 * The {@link TlsChannel} of a node socket, or `undefined` on plain TCP. Built once per connection,
 * lazily: the peer certificate, its thumbprint and the exported keying material are read on first
 * use and kept, so a keep-alive connection pays for them once.
 */
export function socketChannel(socket: object): TlsChannel | undefined {
  const tls = socket as Partial<TLSSocket>;
  let encrypted: boolean | undefined;
  try {
    encrypted = tls.encrypted;
  } catch {
    // node:http2's socket proxy of a session whose socket is gone (ERR_HTTP2_SOCKET_UNBOUND): nothing to bind to.
    return undefined;
  }
  if (!encrypted) return undefined;
  let channel = channels.get(socket);
  if (channel === undefined) {
    channel = channelOf(socket as TLSSocket);
    channels.set(socket, channel);
  }
  return channel;
}

const channels = new WeakMap<object, TlsChannel>();

/** What {@link requestConnection} reads of a request: its socket, and node:http2's stream. */
export interface ConnectionOfRequest {
  readonly socket?: object | null | undefined;
  readonly stream?: unknown;
}

/**
 * The object that stands for the connection a request came on, to hand to {@link socketChannel}.
 * node:http and node:https (and express, fastify's `request.raw`): `req.socket`, the TLS socket.
 * node:http2's compatibility API (`Http2ServerRequest`): every stream has its own `req.socket`, a
 * proxy of the session's TLS socket, so the session's own proxy (`req.stream.session.socket`, one
 * per connection) is used instead: the exporter and the certificate are then read once per
 * HTTP/2 connection, not once per stream. Both proxies answer for the same TLS socket, so the
 * values are the same either way.
 */
export function requestConnection(req: ConnectionOfRequest): object | null | undefined {
  const stream = req.stream as { readonly session?: { readonly socket?: unknown } | undefined } | null | undefined;
  if (stream !== null && typeof stream === 'object') {
    const socket = stream.session?.socket;
    if (socket !== null && typeof socket === 'object') return socket;
  }
  return req.socket;
}

function channelOf(socket: TLSSocket): TlsChannel {
  let peer: { der: Uint8Array | undefined } | undefined;
  const exported = new Map<string, Uint8Array | undefined>();
  return {
    protocol: socket.getProtocol() ?? null,
    peerCertificate() {
      if (peer === undefined) {
        try {
          peer = { der: socket.getPeerX509Certificate()?.raw };
        } catch {
          // An HTTP/2 session whose socket is gone (its proxy throws): no certificate, and not remembered.
          return undefined;
        }
      }
      return peer.der;
    },
    peerVerified() {
      try {
        return socket.authorized === true;
      } catch {
        return false;
      }
    },
    exportKeyingMaterial(length, label) {
      const id = `${length}:${label}`;
      if (!exported.has(id)) {
        let material: Uint8Array | undefined;
        try {
          material = socket.exportKeyingMaterial(length, label, Buffer.alloc(0));
        } catch {
          material = undefined;
        }
        exported.set(id, material);
      }
      return exported.get(id);
    },
  };
}

/** The connection's `x5t#S256`, or `undefined` without a client certificate. */
export function channelThumbprint(channel: TlsChannel | undefined): string | undefined {
  const der = channel?.peerCertificate();
  return der === undefined ? undefined : certificateThumbprint(der);
}

const exporterDigests = new WeakMap<TlsChannel, string | null>();

/**
 * The connection's session binding: SHA-256 of its RFC 9266 exporter value, or `undefined` when
 * the connection is not TLS 1.3 (RFC 9266 §3: `tls-exporter` is defined for TLS 1.3; on 1.2 without
 * extended master secret it is not unique to the connection). Cached per connection.
 */
export function channelExporterDigest(channel: TlsChannel | undefined): string | undefined {
  if (channel === undefined) return undefined;
  let d = exporterDigests.get(channel);
  if (d === undefined) {
    const material = channel.protocol === 'TLSv1.3' ? channel.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL) : undefined;
    d = material === undefined ? null : exporterDigest(material);
    exporterDigests.set(channel, d);
  }
  return d ?? undefined;
}
