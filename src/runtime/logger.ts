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

/**
 * The structured logger (JSON lines on stderr): secrets redacted by path (any format) and, on the
 * whole line, every keyturn secret wherever it stands ({@link redactingDestination}).
 */
export function createLogger(level: string, destination: NodeJS.WritableStream | DestinationStream = process.stderr): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, base: { service: 'keyturn' } }, redactingDestination(destination));
}
