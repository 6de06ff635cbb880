import { CommanderError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyturnError, KEYTURN_ERROR_CODES, type KeyturnErrorCode } from '../core/errors.js';

/** Where the CLI sends requests and with which admin key. */
export interface Target {
  readonly url: string;
  readonly token: string | undefined;
}

/** A usage error: one line on stderr and exit 2, like commander's own. */
export function usageError(message: string): CommanderError {
  return new CommanderError(2, 'keyturn.invalidArgument', message);
}

/** An admin key is ~60 characters; anything past this is not one (and would only earn an HTTP 431). */
const MAX_TOKEN_LENGTH = 1024;

/** `--url`/`KEYTURN_URL`, `--token`/`KEYTURN_TOKEN`, else `<data dir>/admin.key`. */
export function resolveTarget(opts: { url?: string; token?: string; dataDir?: string }, env: NodeJS.ProcessEnv): Target {
  const urlFrom = opts.url !== undefined ? '--url' : env.KEYTURN_URL !== undefined ? 'KEYTURN_URL' : undefined;
  const url = (opts.url ?? env.KEYTURN_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    const hint = /^[\w.-]+(:\d+)?(\/|$)/.test(url) ? `; add the scheme: http://${url}` : '';
    // What stands before an `@` may be a user and password: never echoed.
    const shown = url.includes('@') ? `…@${url.slice(url.lastIndexOf('@') + 1)}` : url;
    throw usageError(`${urlFrom ?? '--url'}: not an http(s) URL: ${JSON.stringify(shown.slice(0, 100))}${hint}`);
  }
  let token = opts.token ?? env.KEYTURN_TOKEN;
  let tokenFrom = opts.token !== undefined ? '--token' : 'KEYTURN_TOKEN';
  if (!token) {
    const file = join(opts.dataDir ?? env.KEYTURN_DATA_DIR ?? './.keyturn', 'admin.key');
    try {
      token = readFileSync(file, 'utf8').trim();
      tokenFrom = file;
    } catch {
      token = undefined;
    }
  }
  if (token !== undefined) checkToken(token, tokenFrom);
  return { url, token };
}

/** A token that cannot be an admin key fails here, with a message saying why, not as an HTTP error. */
function checkToken(token: string, from: string): void {
  if (/[\r\n]/.test(token)) throw usageError(`${from}: the token contains a line break (copied with a newline?)`);
  // biome-ignore lint: control characters are what we look for
  if (/[\x00-\x1f\x7f]/.test(token)) throw usageError(`${from}: the token contains a control character`);
  if (token.length > MAX_TOKEN_LENGTH) {
    throw usageError(`${from}: the token is ${token.length} characters long; a keyturn admin key is about 60`);
  }
}

function asCode(value: unknown): KeyturnErrorCode {
  return (KEYTURN_ERROR_CODES as readonly unknown[]).includes(value) ? (value as KeyturnErrorCode) : 'ERR_UPSTREAM';
}

/**
 * One HTTP request with node:http(s). Not `fetch`: loading undici costs a CLI call about three
 * times Node's own start-up (first run #10 item 8).
 */
async function request(url: string, method: string, headers: Record<string, string>, body: string | undefined): Promise<{ status: number; ok: boolean; text: string }> {
  const target = new URL(url);
  const { request: send } = target.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = send(target, { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve({ status, ok: status >= 200 && status < 300, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Calls the keyturn HTTP API; an error answer becomes a {@link KeyturnError} with the server's code. */
export async function call<T>(target: Target, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: { status: number; ok: boolean; text: string };
  try {
    response = await request(`${target.url}${path}`, method, headers, body === undefined ? undefined : JSON.stringify(body));
  } catch {
    throw new KeyturnError('ERR_UPSTREAM', `cannot reach keyturn at ${target.url} (is it running? try: keyturn serve)`);
  }
  const text = response.text;
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    throw new KeyturnError('ERR_UPSTREAM', `unexpected answer from ${target.url} (HTTP ${response.status})`);
  }
  if (!response.ok) {
    const err = json as { code?: unknown; error_description?: unknown } | undefined;
    const description = typeof err?.error_description === 'string' ? err.error_description : `HTTP ${response.status}`;
    const hint = response.status === 401 && !target.token ? ' (no admin key: pass --token or KEYTURN_TOKEN)' : '';
    throw new KeyturnError(asCode(err?.code), `${description}${hint}`);
  }
  return json as T;
}

/** The options every client command shares. */
export interface ClientFlags {
  url?: string;
  token?: string;
  dataDir?: string;
  json?: boolean;
}

/** Adds the options every client command shares: where the server is, which admin key, `--json`. */
export function clientOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'keyturn server URL (env KEYTURN_URL, default http://127.0.0.1:8080)')
    .option('--token <key>', 'admin API key (env KEYTURN_TOKEN, default <data dir>/admin.key)')
    .option('--data-dir <dir>', 'data directory holding admin.key (env KEYTURN_DATA_DIR, default ./.keyturn)')
    .option('--json', 'print machine-readable JSON');
}

/** The server a command talks to, and its flags. */
export function commandTarget(cmd: Command, env: NodeJS.ProcessEnv): [Target, ClientFlags] {
  const opts = cmd.optsWithGlobals<ClientFlags>();
  return [resolveTarget(opts, env), opts];
}
