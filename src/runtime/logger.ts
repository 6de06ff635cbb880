import pino, { type DestinationStream, type Logger } from 'pino';
import { redactSecrets } from '../core/redact.js';

/** Paths redacted from every log line, whatever logs them (secrets of any format, by name). */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["dpop"]',
  'headers.authorization',
  'key',
  'secret',
  'token',
  'password',
  '*.key',
  '*.secret',
  '*.token',
  '*.password',
  '*.client_secret',
  '*.refresh_token',
];

/**
 * A destination that passes each serialised line through the checksum-aware redactor before
 * `destination` sees it: a keyturn secret anywhere in a line — the message, any field at any
 * depth, an error's message or stack, a URL's query — is written as `<prefix>_[REDACTED]`.
 */
export function redactingDestination(destination: NodeJS.WritableStream | DestinationStream): DestinationStream {
  return { write: (line: string) => void destination.write(redactSecrets(line)) };
}

/** How log lines are written: `pretty` for a person at a terminal, `json` for a collector. */
export type LogFormat = 'auto' | 'pretty' | 'json';

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Fields every line carries that a person at a terminal does not need to read. */
const QUIET_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service']);

function field(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value !== null && typeof value === 'object' && 'message' in value && typeof (value as { message: unknown }).message === 'string') {
    return JSON.stringify((value as { message: string }).message);
  }
  return JSON.stringify(value);
}

/**
 * One pino JSON line as a person reads it: `14:02:07 info  keyturn listening on … (SQLite)`, then
 * the other fields as `name=value`. It formats what pino already redacted.
 */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 19) : '';
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5);
  const extra = Object.entries(entry)
    .filter(([name]) => !QUIET_FIELDS.has(name))
    .map(([name, value]) => `${name}=${field(value)}`);
  return `${[time, level, typeof entry.msg === 'string' ? entry.msg : '', ...extra].filter((part) => part !== '').join(' ')}\n`;
}

/** A pino destination that writes each line through {@link prettyLine}. */
function prettyDestination(destination: NodeJS.WritableStream | DestinationStream): DestinationStream {
  return { write: (line: string) => void destination.write(prettyLine(line)) };
}

/**
 * The structured logger on standard output, secrets redacted by path and, on the whole line, every
 * keyturn secret wherever it stands ({@link redactingDestination}): pino JSON lines, or with
 * `format` `pretty` (or `auto` on a terminal) one human-readable line per entry.
 */
export function createLogger(level: string, destination: NodeJS.WritableStream | DestinationStream = process.stdout, format: LogFormat = 'json'): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && (destination as { isTTY?: boolean }).isTTY === true);
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, base: { service: 'keyturn' } }, redactingDestination(pretty ? prettyDestination(destination) : destination));
}

/**
 * The logger for what a person starting keyturn must see whatever the level (where it listens,
 * where the bootstrap admin key went): `info` lines even under `warn`; nothing under `silent`.
 */
export function announcer(logger: Logger): Logger {
  return logger.level === 'silent' ? logger : logger.child({}, { level: 'info' });
}
