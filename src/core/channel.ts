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
   * `length` bytes exported under `label` with an empty context (RFC 9266 uses
   * `EXPORTER-Channel-Binding`, 32 bytes); `undefined` when the connection cannot export.
   */
  exportKeyingMaterial(length: number, label: string): Uint8Array | undefined;
}
