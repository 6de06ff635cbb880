import { readFileSync } from 'node:fs';
import type { SecureVersion } from 'node:tls';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { Config } from '../config/schema.js';
import { KeyturnError } from '../core/errors.js';

/** What `keyturn serve` needs to serve HTTPS: the options of the main and of the mTLS listener. */
export interface TlsListeners {
  /** The main port: asks for a client certificate only when there is no separate mTLS port. */
  readonly main: HttpsOptions;
  /** The `mtlsPort` listener (RFC 8705 §5 `mtls_endpoint_aliases`), which always asks; `undefined` without one. */
  readonly mtls: HttpsOptions | undefined;
}

function read(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new KeyturnError('ERR_CONFIG', `${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * The HTTPS options from `server.tlsCert`/`tlsKey`/`tlsClientCa`/`tlsMinVersion`/`mtlsPort`, or
 * `undefined` when keyturn serves plain HTTP. A client certificate is requested but never required
 * at the handshake (`rejectUnauthorized: false`): each endpoint decides whether it needs one and
 * whether it must chain to `tlsClientCa` (`tls_client_auth`) or be a registered self-signed one.
 * Refuses (`ERR_CONFIG`) half a configuration.
 */
export function tlsListeners(config: Config): TlsListeners | undefined {
  const { tlsCert, tlsKey, tlsClientCa, tlsMinVersion, mtlsPort } = config.server;
  if (tlsCert === undefined && tlsKey === undefined) {
    if (tlsClientCa !== undefined || mtlsPort !== undefined) throw new KeyturnError('ERR_CONFIG', 'tlsClientCa and mtlsPort need tlsCert and tlsKey');
    return undefined;
  }
  if (tlsCert === undefined || tlsKey === undefined) throw new KeyturnError('ERR_CONFIG', 'give both tlsCert and tlsKey');
  const base: HttpsOptions = {
    cert: read(tlsCert, 'tlsCert'),
    key: read(tlsKey, 'tlsKey'),
    minVersion: tlsMinVersion as SecureVersion,
    ...(tlsClientCa === undefined ? {} : { ca: read(tlsClientCa, 'tlsClientCa') }),
  };
  const asking: HttpsOptions = { ...base, requestCert: true, rejectUnauthorized: false };
  if (mtlsPort === undefined) return { main: asking, mtls: undefined };
  return { main: { ...base, requestCert: false }, mtls: asking };
}
