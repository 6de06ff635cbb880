import { debuglog } from 'node:util';
import type { StreamState } from './types.js';

const debug = debuglog('keyturn');

/** One dispatched Server-Sent Event. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Longest line accepted from the stream; a longer one means the upstream is broken or hostile. */
const MAX_LINE = 64 * 1024;

/**
 * An incremental parser of the `text/event-stream` format (WHATWG HTML §9.2.6): lines end with
 * CRLF, LF or CR; `event` and `data` fields; lines starting with `:` are comments; a blank line
 * dispatches. `id` and `retry` are ignored (the feed has no replay; reconnect clears the cache).
 *
 * @example
 * ```ts
 * const parser = new SseParser((e) => console.log(e.event, e.data));
 * parser.push('event: changed\ndata: {"keyId":"key_1"}\n\n');
 * ```
 */
export class SseParser {
  readonly #dispatch: (event: SseEvent) => void;
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #skipLf = false;

  constructor(dispatch: (event: SseEvent) => void) {
    this.#dispatch = dispatch;
  }

  /** Feeds decoded text; throws `RangeError` when a line grows past 64 KiB. */
  push(text: string): void {
    let start = 0;
    const input = this.#buffer + text;
    this.#buffer = '';
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i);
      if (c === 0x0a && this.#skipLf) {
        this.#skipLf = false;
        start = i + 1;
        continue;
      }
      this.#skipLf = false;
      if (c === 0x0a || c === 0x0d) {
        this.#line(input.slice(start, i));
        if (c === 0x0d) this.#skipLf = true;
        start = i + 1;
      }
    }
    this.#buffer = input.slice(start);
    if (this.#buffer.length > MAX_LINE) throw new RangeError('event stream line too long');
  }

  #line(line: string): void {
    if (line.length === 0) {
      if (this.#data.length > 0 || this.#event !== '') {
        this.#dispatch({ event: this.#event || 'message', data: this.#data.join('\n') });
      }
      this.#event = '';
      this.#data = [];
      return;
    }
    if (line.charCodeAt(0) === 0x3a /* : */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') {
      this.#data.push(value);
      if (this.#data.length > 1024) throw new RangeError('event stream event too large');
    }
  }
}

/** Options of {@link ChangeStream}. */
export interface ChangeStreamOptions {
  /** Full URL of the stream, e.g. `http://127.0.0.1:8080/v1/keys/changes`. */
  readonly url: string;
  /** The `Authorization` header value (`Bearer <API key with scope verify>`); never logged. */
  readonly authorization: string;
  readonly fetch: typeof globalThis.fetch;
  /** Every event but comments; `ready` included. */
  readonly onEvent: (event: SseEvent) => void;
  readonly onState: (state: StreamState) => void;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
}

/** Heartbeat assumed until the server's `ready` says otherwise (keyturn sends 15 s). */
const DEFAULT_HEARTBEAT_MS = 15_000;

/**
 * Follows keyturn's change stream over `fetch` streaming: reconnects with exponential backoff and
 * jitter when it ends, fails or stays silent for two heartbeats (a half-open connection).
 *
 * @example
 * ```ts
 * const stream = new ChangeStream({ url, fetch, onEvent: (e) => …, onState: (s) => …, reconnectMinMs: 250, reconnectMaxMs: 30_000 });
 * stream.start();
 * await stream.close();
 * ```
 */
export class ChangeStream {
  readonly #options: ChangeStreamOptions;
  #closed = false;
  #controller: AbortController | undefined;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #state: StreamState = 'off';

  constructor(options: ChangeStreamOptions) {
    this.#options = options;
  }

  get state(): StreamState {
    return this.#state;
  }

  start(): void {
    if (this.#running || this.#closed) return;
    this.#running = this.#run();
  }

  /** Ends the connection and any pending reconnect; resolves when the loop has stopped. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#controller?.abort();
    this.#wake?.();
    await this.#running;
    this.#setState('off');
  }

  #setState(state: StreamState): void {
    if (state === this.#state) return;
    this.#state = state;
    try {
      this.#options.onState(state);
    } catch {
      // an observer's mistake must not break the stream
    }
  }

  async #run(): Promise<void> {
    let attempt = 0;
    this.#setState('connecting');
    while (!this.#closed) {
      const opened = await this.#connectOnce();
      if (this.#closed) break;
      if (opened) attempt = 0;
      this.#setState('down');
      const base = Math.min(this.#options.reconnectMaxMs, this.#options.reconnectMinMs * 2 ** Math.min(attempt, 20));
      attempt++;
      await this.#sleep(base / 2 + Math.random() * (base / 2));
    }
  }

  /** One connection, until it ends. True when it got as far as `ready`. */
  async #connectOnce(): Promise<boolean> {
    const controller = new AbortController();
    this.#controller = controller;
    let opened = false;
    let silenceMs = 2 * DEFAULT_HEARTBEAT_MS + 5_000;
    let watchdog: NodeJS.Timeout | undefined;
    const rearm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => controller.abort(), silenceMs);
      watchdog.unref();
    };
    rearm();
    try {
      const res = await this.#options.fetch(this.#options.url, {
        headers: { accept: 'text/event-stream', 'cache-control': 'no-store', authorization: this.#options.authorization },
        signal: controller.signal,
      });
      if (res.status !== 200 || res.body === null) {
        // 401/403: the apiKey is wrong, revoked or lacks scope `verify`; 429/503: keyturn's stream caps.
        debug('change stream refused: HTTP %d', res.status);
        await res.body?.cancel().catch(() => undefined);
        return false;
      }
      const parser = new SseParser((event) => {
        if (event.event === 'ready') {
          opened = true;
          const heartbeat = readHeartbeat(event.data);
          if (heartbeat !== undefined) silenceMs = 2 * heartbeat + 5_000;
          this.#setState('open');
        }
        this.#options.onEvent(event);
      });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        // Any byte (event or `: ping`) proves the connection alive.
        parser.push(decoder.decode(value, { stream: true }));
        rearm();
        if (this.#closed) break;
      }
    } catch {
      // network error, abort, bad stream: reconnect
    } finally {
      clearTimeout(watchdog);
      controller.abort();
    }
    return opened;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

function readHeartbeat(data: string): number | undefined {
  try {
    const parsed = JSON.parse(data) as { heartbeatMs?: unknown };
    const ms = parsed.heartbeatMs;
    return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 && ms <= 3_600_000 ? ms : undefined;
  } catch {
    return undefined;
  }
}
