import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { TlsChannel } from '../../core/channel.js';

const channels = new WeakMap<Socket, TlsChannel>();

/**
 * The {@link TlsChannel} of the connection `socket`, or `undefined` on plain TCP. Built once per
 * connection and lazily: the peer certificate and exported keying material are read from the
 * node `TLSSocket` on first use and kept.
 */
export function tlsChannel(socket: Socket): TlsChannel | undefined {
  if (!(socket as Partial<TLSSocket>).encrypted) return undefined;
  let channel = channels.get(socket);
  if (channel === undefined) {
    channel = channelOf(socket as TLSSocket);
    channels.set(socket, channel);
  }
  return channel;
}

function channelOf(socket: TLSSocket): TlsChannel {
  let peer: { der: Uint8Array | undefined } | undefined;
  const exported = new Map<string, Uint8Array | undefined>();
  return {
    protocol: socket.getProtocol() ?? null,
    peerCertificate() {
      peer ??= { der: socket.getPeerX509Certificate()?.raw };
      return peer.der;
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
