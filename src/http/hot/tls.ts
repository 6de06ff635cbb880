import type { Socket } from 'node:net';
import { socketChannel, type TlsChannel } from '../../core/channel.js';

/**
 * The {@link TlsChannel} of the connection `socket`, or `undefined` on plain TCP (built once per
 * connection by {@link socketChannel}, which the verifier library shares).
 */
export function tlsChannel(socket: Socket): TlsChannel | undefined {
  return socketChannel(socket);
}
