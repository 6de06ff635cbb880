/**
 * Where a sink writes: a syslog collector over TCP or TLS (RFC 6587 octet counting; RFC 5425), a
 * local file with size-based rotation, or a Splunk HTTP Event Collector. Each transport takes a
 * batch of already formatted payloads and resolves only once the batch was handed over (and, for
 * HEC with acknowledgements, indexed); any failure rejects, and the sink retries the whole batch.
 */
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { KeyturnError } from '../../core/errors.js';
import { octetCount } from '../formats/syslog.js';

/** Writes batches of formatted messages somewhere. */
export interface Transport {
  send(messages: readonly string[], signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** TLS choices for a syslog or HEC connection (PEM text, already read). */
export interface TlsMaterial {
  readonly ca?: string | undefined;
  /** Client certificate and key, for collectors that authenticate senders (RFC 5425 §5.2). */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly servername?: string | undefined;
}

export interface SyslogTransportOptions {
  readonly host: string;
  readonly port: number;
  /** TLS (RFC 5425) when set; plain TCP otherwise. */
  readonly tls?: TlsMaterial | undefined;
  readonly connectTimeoutMs?: number;
  /** How long after a TLS handshake to watch for the collector refusing the client (ms, default 250). */
  readonly tlsSettleMs?: number;
  /** Resolves the host (the egress guard's, for sinks added through the admin API). */
  readonly lookup?: net.LookupFunction | undefined;
}

/**
 * RFC 6587 octet-counted syslog over one long-lived TCP or TLS connection (opened on first use and
 * again after any error). Syslog has no application acknowledgement: a batch counts as sent once
 * the socket accepted every frame; a connection the peer closed is noticed before the next batch.
 */
export class SyslogTransport implements Transport {
  readonly #options: SyslogTransportOptions;
  #socket: net.Socket | undefined;
  #broken = false;

  constructor(options: SyslogTransportOptions) {
    this.#options = options;
  }

  async #connect(): Promise<net.Socket> {
    if (this.#socket && !this.#broken && !this.#socket.destroyed && this.#socket.writable) return this.#socket;
    this.#socket?.destroy();
    const { host, port } = this.#options;
    const timeout = this.#options.connectTimeoutMs ?? 5_000;
    const material = this.#options.tls;
    const lookup = this.#options.lookup ? { lookup: this.#options.lookup } : {};
    const socket = material
      ? tls.connect({ host, port, ca: material.ca, cert: material.cert, key: material.key, servername: material.servername ?? (net.isIP(host) ? undefined : host), ...lookup })
      : net.connect({ host, port, ...lookup });
    this.#broken = false;
    const ready = material ? 'secureConnect' : 'connect';
    const timer = setTimeout(() => socket.destroy(new KeyturnError('ERR_UPSTREAM', `syslog ${host}:${port}: no connection within ${timeout} ms`)), timeout);
    // An error before the connection is up rejects `once` (the socket has no other listener yet).
    try {
      await once(socket, ready);
    } finally {
      clearTimeout(timer);
    }
    socket.on('error', () => undefined);
    if (material) {
      // TLS 1.3 completes the client's handshake before the collector has checked the client
      // certificate; one it refuses is closed right after. Wait a moment for that verdict, so a
      // refused sender fails here instead of writing into a connection about to be reset.
      const refused = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          socket.off('close', onClose);
          resolve(false);
        }, this.#options.tlsSettleMs ?? 250);
        const onClose = () => {
          clearTimeout(timer);
          resolve(true);
        };
        socket.once('close', onClose);
      });
      if (refused) throw new KeyturnError('ERR_UPSTREAM', `syslog ${host}:${port} closed the TLS connection after the handshake (client certificate refused?)`);
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const mark = () => {
      this.#broken = true;
    };
    socket.on('error', mark);
    socket.on('end', mark);
    socket.on('close', mark);
    // A collector sends nothing back; reading keeps 'end' observable.
    socket.resume();
    this.#socket = socket;
    return socket;
  }

  async send(messages: readonly string[], signal: AbortSignal): Promise<void> {
    if (messages.length === 0) return;
    signal.throwIfAborted();
    const socket = await this.#connect();
    const frames = Buffer.concat(messages.map((m) => octetCount(m)));
    await new Promise<void>((resolve, reject) => {
      const onClose = () => reject(new KeyturnError('ERR_UPSTREAM', 'syslog connection closed while sending'));
      socket.once('close', onClose);
      socket.write(frames, (err) => {
        socket.off('close', onClose);
        if (err) reject(err);
        else resolve();
      });
    }).catch((err: unknown) => {
      this.#broken = true;
      socket.destroy();
      throw err;
    });
    if (this.#broken) throw new KeyturnError('ERR_UPSTREAM', 'syslog connection closed by the collector');
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket || socket.destroyed) return;
    socket.end();
    await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 1_000).unref())]);
    socket.destroy();
  }
}

export interface FileTransportOptions {
  readonly path: string;
  /** Rotate when the file would grow past this many bytes (default 100 MiB). */
  readonly maxBytes?: number;
  /** Rotated files kept: `path.1` (newest) … `path.N` (default 5). */
  readonly maxFiles?: number;
}

/**
 * Appends one line per message to a file (mode 0600), fsync'd before a batch counts as written.
 * When a batch would take the file past `maxBytes`, the file is rotated first: `path` → `path.1`,
 * `path.1` → `path.2`, …, the oldest beyond `maxFiles` deleted. A single batch larger than the
 * limit is written whole to a fresh file (a line is never split).
 */
export class FileTransport implements Transport {
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #maxFiles: number;

  constructor(options: FileTransportOptions) {
    this.#path = options.path;
    this.#maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
    this.#maxFiles = options.maxFiles ?? 5;
  }

  async send(messages: readonly string[], signal: AbortSignal): Promise<void> {
    if (messages.length === 0) return;
    signal.throwIfAborted();
    const body = Buffer.from(messages.map((m) => `${m.replace(/\r?\n/g, ' ')}\n`).join(''), 'utf8');
    const size = await fs.stat(this.#path).then((s) => s.size, () => 0);
    if (size > 0 && size + body.length > this.#maxBytes) await this.#rotate();
    const handle = await fs.open(this.#path, 'a', 0o600);
    try {
      await handle.write(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async #rotate(): Promise<void> {
    await fs.rm(`${this.#path}.${this.#maxFiles}`, { force: true });
    for (let i = this.#maxFiles - 1; i >= 1; i--) {
      await fs.rename(`${this.#path}.${i}`, `${this.#path}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    await fs.rename(this.#path, `${this.#path}.1`);
  }

  async close(): Promise<void> {}
}

export interface HecTransportOptions {
  /** Base URL of the collector, e.g. `https://splunk.example.com:8088`. */
  readonly url: string;
  /** The HEC token; sent as `Authorization: Splunk <token>`, never logged. */
  readonly token: string;
  /** Wait for indexer acknowledgement of every batch (HEC `useACK`). Default true. */
  readonly acks?: boolean;
  /** How long to wait for an acknowledgement before the batch counts as failed (ms, default 30 s). */
  readonly ackTimeoutMs?: number;
  /** How often to ask for acknowledgements (ms, default 500). */
  readonly ackPollMs?: number;
  readonly tls?: TlsMaterial | undefined;
  /** Request timeout (ms, default 10 s). */
  readonly timeoutMs?: number;
  /** Resolves the host (the egress guard's, for sinks added through the admin API). */
  readonly lookup?: net.LookupFunction | undefined;
}

interface HecReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * Splunk HTTP Event Collector: each batch is one `POST /services/collector/event` whose body is
 * the envelopes one after another (`{"time":…,"source":…,"sourcetype":…,"event":…}` each), sent
 * with `Authorization: Splunk <token>` and a request channel (`X-Splunk-Request-Channel`, a UUID
 * per transport). With acknowledgements the answer's `ackId` is then polled with
 * `POST /services/collector/ack` (`{"acks":[id]}` → `{"acks":{"id":true}}`) until it is indexed;
 * only then is the batch delivered. Messages given to {@link send} are the envelopes, one JSON each.
 */
export class HecTransport implements Transport {
  readonly #options: HecTransportOptions;
  readonly #channel = randomUUID();
  readonly #base: URL;

  constructor(options: HecTransportOptions) {
    this.#options = options;
    this.#base = new URL(options.url);
    if (this.#base.protocol !== 'https:' && this.#base.protocol !== 'http:') throw new KeyturnError('ERR_VALIDATION', 'a Splunk HEC URL is http: or https:');
  }

  /** The token's fingerprint, for logs (never the token). */
  get tokenFingerprint(): string {
    return createHash('sha256').update(this.#options.token).digest('hex').slice(0, 12);
  }

  async send(messages: readonly string[], signal: AbortSignal): Promise<void> {
    if (messages.length === 0) return;
    const reply = await this.#post('/services/collector/event', messages.join('\n'), signal);
    if (reply.status !== 200 || reply.body['code'] !== 0) {
      throw new KeyturnError('ERR_UPSTREAM', `Splunk HEC answered ${reply.status} (code ${String(reply.body['code'])}: ${String(reply.body['text'] ?? '').slice(0, 100)})`);
    }
    if (this.#options.acks === false) return;
    const ackId = reply.body['ackId'];
    if (typeof ackId !== 'number') throw new KeyturnError('ERR_UPSTREAM', 'Splunk HEC gave no ackId: enable indexer acknowledgement on the token, or set acks: false');
    const deadline = Date.now() + (this.#options.ackTimeoutMs ?? 30_000);
    for (;;) {
      signal.throwIfAborted();
      const ack = await this.#post('/services/collector/ack', JSON.stringify({ acks: [ackId] }), signal);
      if (ack.status !== 200) throw new KeyturnError('ERR_UPSTREAM', `Splunk HEC ack answered ${ack.status}`);
      const acks = ack.body['acks'] as Record<string, unknown> | undefined;
      if (acks?.[String(ackId)] === true) return;
      if (Date.now() >= deadline) throw new KeyturnError('ERR_UPSTREAM', `Splunk HEC did not acknowledge batch ${ackId} in time`);
      await new Promise((r) => setTimeout(r, this.#options.ackPollMs ?? 500));
    }
  }

  #post(path: string, body: string, signal: AbortSignal): Promise<HecReply> {
    const url = new URL(path, this.#base);
    const material = this.#options.tls;
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<HecReply>((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method: 'POST',
          signal,
          timeout: this.#options.timeoutMs ?? 10_000,
          headers: {
            authorization: `Splunk ${this.#options.token}`,
            'content-type': 'application/json',
            'x-splunk-request-channel': this.#channel,
          },
          ...(url.protocol === 'https:' && material ? { ca: material.ca, cert: material.cert, key: material.key, servername: material.servername } : {}),
          ...(this.#options.lookup ? { lookup: this.#options.lookup } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= 65_536) chunks.push(chunk);
          });
          res.on('end', () => {
            let parsed: Record<string, unknown> = {};
            try {
              const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
              if (value !== null && typeof value === 'object') parsed = value as Record<string, unknown>;
            } catch {
              // Not JSON: the status decides.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new KeyturnError('ERR_UPSTREAM', 'Splunk HEC did not answer in time')));
      req.on('error', reject);
      req.end(body);
    });
  }

  async close(): Promise<void> {}
}
