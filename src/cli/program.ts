import { Command, CommanderError, Option } from 'commander';
import { flagName } from '../config/docs.js';
import { loadConfig } from '../config/load.js';
import { configSchema, envName } from '../config/schema.js';
import { parseDuration } from '../core/duration.js';
import { KeyturnError } from '../core/errors.js';
import { startServer } from '../runtime/serve.js';
import { call, resolveTarget, type Target } from './client.js';
import { record, table } from './format.js';
import { scanCommand } from './scan.js';

/** Where a command writes; tests pass their own. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: () => Promise<string>;
}

interface Common {
  url?: string;
  token?: string;
  dataDir?: string;
  json?: boolean;
}

type KeyView = Record<string, unknown> & { id: string };
type Page = { items: KeyView[]; next: string | null };

/** Adds the options every client command shares. */
function client(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'keyturn server URL (env KEYTURN_URL, default http://127.0.0.1:8080)')
    .option('--token <key>', 'admin API key (env KEYTURN_TOKEN, default <data dir>/admin.key)')
    .option('--data-dir <dir>', 'data directory holding admin.key (env KEYTURN_DATA_DIR, default ./.keyturn)')
    .option('--json', 'print machine-readable JSON');
}

function target(cmd: Command, io: Io): [Target, Common] {
  const opts = cmd.optsWithGlobals<Common>();
  return [resolveTarget(opts, io.env), opts];
}

function scopesOption(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function durationOption(value: string): string {
  parseDuration(value);
  return value;
}

/** Wraps commander's option parsers so a bad value is a usage error with one line. */
function checked<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new CommanderError(2, 'keyturn.invalidArgument', err instanceof Error ? err.message : String(err));
    }
  };
}

const KEY_COLUMNS = ['id', 'name', 'principal', 'start', 'last4', 'scopes', 'status', 'expiresAt'];

/**
 * The `keyturn` command line. Every client command talks to a server over HTTP; `--json` prints
 * what the API answered.
 */
export function buildProgram(io: Io): Command {
  const print = (opts: Common, json: unknown, text: () => string) => io.out(opts.json ? JSON.stringify(json, null, 2) : text());

  const program = new Command('keyturn')
    .description('Self-hosted authority for API credentials')
    .version('0.1.0')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
      outputError: (s, write) => write(`keyturn: ${s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`),
    });

  const serve = program
    .command('serve')
    .description('start the keyturn server (SQLite under ./.keyturn by default)')
    .option('--config <file>', 'JSON configuration file (env KEYTURN_CONFIG)');
  // One flag per configuration setting, described by the schema itself.
  for (const [key, field] of Object.entries(configSchema.shape)) {
    serve.option(`${flagName(key)} <value>`, `${(field as { description?: string }).description ?? key} (env ${envName(key)})`);
  }
  serve.action(async (opts: Record<string, string | undefined> & { config?: string }) => {
      const { config: file, ...flags } = opts;
      const config = loadConfig({ file, env: io.env, flags });
      const server = await startServer(config);
      if (server.adminKeyFile) io.out(`bootstrap admin key written to ${server.adminKeyFile} (mode 0600)`);
      io.out(`keyturn listening on ${server.url} (${config.db?.startsWith('postgres') ? 'PostgreSQL' : 'SQLite'})`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          server.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });

  const keys = program.command('keys').description('API keys');
  client(keys.command('create').description('create an API key; the key is printed once'))
    .requiredOption('--owner <principal>', 'owner principal (id or name)')
    .requiredOption('--name <name>', 'a name for the key')
    .option('--scopes <list>', 'comma-separated scopes', checked(scopesOption), [] as string[])
    .option('--expires-in <duration>', 'lifetime, e.g. 90s, 12h, 30d, 1y', checked(durationOption))
    .action(async (opts: Common & { owner: string; name: string; scopes: string[]; expiresIn?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const created = await call<KeyView & { key: string }>(t, 'POST', '/v1/keys', {
        owner: opts.owner,
        name: opts.name,
        scopes: opts.scopes,
        ...(opts.expiresIn ? { expiresIn: opts.expiresIn } : {}),
      });
      print(common, created, () => `${created.key}\n\n${record({ id: created.id, name: created.name, scopes: created.scopes, expiresAt: created.expiresAt })}\n\nStore the key now: keyturn keeps only its digest and cannot show it again.`);
    });
  client(keys.command('list').description('list API keys (never the secrets)'))
    .option('--owner <principal>', 'only keys of this principal')
    .option('--limit <n>', 'page size (1-1000)', checked((v) => String(Number.parseInt(v, 10))))
    .option('--after <id>', 'cursor: the last id of the previous page')
    .action(async (opts: Common & { owner?: string; limit?: string; after?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const query = new URLSearchParams();
      if (opts.owner) query.set('owner', opts.owner);
      if (opts.limit) query.set('limit', opts.limit);
      if (opts.after) query.set('after', opts.after);
      const page = await call<Page>(t, 'GET', `/v1/keys${query.size ? `?${query}` : ''}`);
      print(common, page, () => (page.items.length ? table(page.items, KEY_COLUMNS) : 'no keys'));
    });
  client(keys.command('show').description('show one API key').argument('<id>', 'key id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const key = await call<KeyView>(t, 'GET', `/v1/keys/${encodeURIComponent(id)}`);
      print(common, key, () => record(key));
    });
  client(keys.command('revoke').description('revoke an API key for good').argument('<id>', 'key id'))
    .option('--reason <text>', 'why (recorded in the event)')
    .action(async (id: string, opts: Common & { reason?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const key = await call<KeyView>(t, 'POST', `/v1/keys/${encodeURIComponent(id)}/revoke`, opts.reason ? { reason: opts.reason } : {});
      print(common, key, () => `revoked ${key.id}`);
    });
  client(keys.command('verify').description('check a key (use - to read it from standard input); exit 1 when invalid').argument('<key>', 'the API key, or -'))
    .action(async (key: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const presented = key === '-' ? (await io.stdin()).trim() : key;
      const answer = await call<{ valid: boolean; code?: string; keyId?: string; scopes?: string[] }>(t, 'POST', '/v1/keys/verify', { key: presented });
      print(common, answer, () => (answer.valid ? `valid: ${answer.keyId} scopes=${(answer.scopes ?? []).join(',') || '-'}` : `invalid: ${answer.code}`));
      if (!answer.valid) process.exitCode = 1;
    });

  const principals = program.command('principals').description('people (user) and workloads (service) that credentials act for');
  client(principals.command('create').description('create a principal'))
    .addOption(new Option('--kind <kind>', 'user or service').choices(['user', 'service']).makeOptionMandatory())
    .requiredOption('--name <name>', 'unique name')
    .option('--email <email>', 'e-mail address (users)')
    .action(async (opts: Common & { kind: string; name: string; email?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const principal = await call<KeyView>(t, 'POST', '/v1/principals', { kind: opts.kind, name: opts.name, ...(opts.email ? { email: opts.email } : {}) });
      print(common, principal, () => record(principal));
    });
  client(principals.command('list').description('list principals'))
    .addOption(new Option('--kind <kind>', 'only this kind').choices(['user', 'service']))
    .action(async (opts: Common & { kind?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const page = await call<Page>(t, 'GET', `/v1/principals${opts.kind ? `?kind=${opts.kind}` : ''}`);
      print(common, page, () => (page.items.length ? table(page.items, ['id', 'kind', 'name', 'email', 'status', 'createdAt']) : 'no principals'));
    });

  program.addCommand(scanCommand());

  return program;
}

/** Runs the CLI; resolves to the exit code. One line on stderr for any error. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      if (err.code === 'keyturn.invalidArgument') io.err(`keyturn: ${err.message}`);
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof KeyturnError) {
      io.err(`keyturn: ${err.code}: ${err.message}`);
      return 1;
    }
    io.err(`keyturn: ERR_INTERNAL: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
