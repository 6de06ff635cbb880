import pino, { type Logger } from 'pino';

/** Paths redacted from every log line, whatever logs them. */
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

/** The structured logger (JSON lines on stderr), secrets redacted by path. */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, base: { service: 'keyturn' } }, destination);
}
