import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { envName, flagName, SETTING_NAMES, settingSchema } from '../config/schema.js';
import { parseDuration } from '../core/duration.js';
import { KeyturnError } from '../core/errors.js';
import { call, clientOptions, commandTarget, usageError, type ClientFlags } from './client.js';
import { listing, record, table } from './format.js';
import { readEnvVar, writeEnvVar } from './env-file.js';
import { hooksCommand } from './hooks.js';
import { policiesCommand } from './policies.js';
import { scanCommand } from './scan.js';
import { watchCommand } from './watch.js';

/** Where a command writes; tests pass their own. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: () => Promise<string>;
}

type Common = ClientFlags;

type KeyView = Record<string, unknown> & { id: string };
type Page = { items: KeyView[]; next: string | null };

const client = clientOptions;
const target = (cmd: Command, io: Io) => commandTarget(cmd, io.env);

/** RFC 6749 §3.3 scope-token: printable ASCII without space, `"` or `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * `a,b,c` → a list for `flag`, each item a token without spaces: an empty list or an item with a
 * space is a usage error, not a request.
 */
function commaList(flag: string, what: string): (value: string) => string[] {
  return (value) => {
    const list = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (list.length === 0) throw new Error(`${flag}: empty list (give comma-separated ${what}s)`);
    for (const item of list) {
      if (!SCOPE_TOKEN.test(item)) {
        const hint = /\s/.test(item) ? ` (separate ${what}s with commas: ${item.split(/\s+/).join(',')})` : '';
        throw new Error(`${flag}: ${JSON.stringify(item.slice(0, 100))} is not a ${what}${hint}`);
      }
    }
    return list;
  };
}

const scopesOption = commaList('--scopes', 'scope');

/** `--limit`: a whole number from 1 to 1000. */
function limitOption(value: string): string {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) throw new Error(`--limit: expected a whole number from 1 to 1000, got ${JSON.stringify(value.slice(0, 20))}`);
  return value;
}

function durationOption(value: string): string {
  parseDuration(value);
  return value;
}

/** `0` or a duration, in whole seconds. */
function graceOption(value: string): number {
  return value === '0' ? 0 : Math.floor(parseDuration(value) / 1000);
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

  const program = new Command('keyturn').description('Self-hosted authority for API credentials').version('0.1.0');

  const serve = program
    .command('serve')
    .description('start the keyturn server (SQLite under ./.keyturn by default)')
    .option('--config <file>', 'JSON configuration file (env KEYTURN_CONFIG)');
  // One flag per configuration setting, described by the schema itself.
  for (const name of SETTING_NAMES) {
    serve.option(`${flagName(name)} <value>`, `${settingSchema(name).description ?? name} (env ${envName(name)})`);
  }
  serve.action(async (opts: Record<string, string | undefined> & { config?: string }) => {
      const { config: file, ...flags } = opts;
      const config = loadConfig({ file, env: io.env, flags });
      // Loaded only to serve: client commands start without the server's modules.
      const { startServer } = await import('../runtime/serve.js');
      const server = await startServer(config);
      if (server.adminKeyFile) io.out(`bootstrap admin key written to ${server.adminKeyFile} (mode 0600)`);
      io.out(`keyturn listening on ${server.url} (${config.store.db?.startsWith('postgres') ? 'PostgreSQL' : 'SQLite'})`);
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
    .option('--policy <name>', "lifetime policy (default: the owner's, then the deployment default)")
    .action(async (opts: Common & { owner: string; name: string; scopes: string[]; expiresIn?: string; policy?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const created = await call<KeyView & { key: string }>(t, 'POST', '/v1/keys', {
        owner: opts.owner,
        name: opts.name,
        scopes: opts.scopes,
        ...(opts.expiresIn ? { expiresIn: opts.expiresIn } : {}),
        ...(opts.policy ? { policy: opts.policy } : {}),
      });
      print(common, created, () => `${created.key}\n\n${record({ id: created.id, name: created.name, scopes: created.scopes, expiresAt: created.expiresAt })}\n\nStore the key now: keyturn keeps only its digest and cannot show it again.`);
    });
  client(keys.command('list').description('list API keys (never the secrets)'))
    .option('--owner <principal>', 'only keys of this principal')
    .option('--limit <n>', 'page size (1-1000)', checked(limitOption))
    .option('--after <id>', 'cursor: the last id of the previous page')
    .action(async (opts: Common & { owner?: string; limit?: string; after?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const query = new URLSearchParams();
      if (opts.owner) query.set('owner', opts.owner);
      if (opts.limit) query.set('limit', opts.limit);
      if (opts.after) query.set('after', opts.after);
      const page = await call<Page>(t, 'GET', `/v1/keys${query.size ? `?${query}` : ''}`);
      print(common, page, () => listing(page, KEY_COLUMNS, 'no keys', `keyturn keys list${opts.owner ? ` --owner ${opts.owner}` : ''}${opts.limit ? ` --limit ${opts.limit}` : ''}`));
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
      // Revoking is idempotent on the server; the user still hears that this call changed nothing.
      const before = await call<KeyView>(t, 'GET', `/v1/keys/${encodeURIComponent(id)}`);
      const key = await call<KeyView>(t, 'POST', `/v1/keys/${encodeURIComponent(id)}/revoke`, opts.reason ? { reason: opts.reason } : {});
      print(common, key, () => (before.status === 'revoked' ? `${key.id} was already revoked (at ${String(key.revokedAt)}); nothing changed` : `revoked ${key.id}`));
    });
  client(keys.command('suspend').description('quarantine an API key: verification fails until unsuspended').argument('<id>', 'key id'))
    .option('--reason <text>', 'why (recorded in the event)')
    .action(async (id: string, opts: Common & { reason?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const key = await call<KeyView>(t, 'POST', `/v1/keys/${encodeURIComponent(id)}/suspend`, opts.reason ? { reason: opts.reason } : {});
      print(common, key, () => `suspended ${key.id}`);
    });
  client(keys.command('unsuspend').description('lift a suspension (e.g. after a leak turned out harmless)').argument('<id>', 'key id'))
    .option('--ack-leak', 'acknowledge the key\'s open leak findings (required when it was found leaked; recorded as who acknowledged)')
    .action(async (id: string, opts: Common & { ackLeak?: boolean }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const key = await call<KeyView>(t, 'POST', `/v1/keys/${encodeURIComponent(id)}/unsuspend`, opts.ackLeak ? { ackLeak: true } : {});
      print(common, key, () => `unsuspended ${key.id}${opts.ackLeak ? ' (leak findings acknowledged)' : ''}`);
    });
  client(keys.command('rotate').description('issue the successor now (printed once); the key keeps working for its grace').argument('<id>', 'key id'))
    .option('--grace <duration>', 'how long the old key keeps working, e.g. 1h (default and most: the policy\'s; 0 ends it now)', checked(graceOption))
    .action(async (id: string, opts: Common & { grace?: number }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const rotated = await call<KeyView & { key: string; predecessor: { id: string; graceEndsAt: string | null } }>(
        t,
        'POST',
        `/v1/keys/${encodeURIComponent(id)}/rotate`,
        opts.grace === undefined ? {} : { graceSeconds: opts.grace },
      );
      print(common, rotated, () =>
        `${rotated.key}\n\n${record({ id: rotated.id, name: rotated.name, predecessor: rotated.predecessor.id, predecessorWorksUntil: rotated.predecessor.graceEndsAt })}\n\nStore the key now: keyturn keeps only its digest and cannot show it again.`,
      );
    });
  client(keys.command('self-rotate').description("rotate the key held in an env file with the key itself, and write the successor there (for deploy scripts)"))
    .requiredOption('--env-file <file>', 'the env file holding the key, e.g. .env')
    .requiredOption('--var <name>', 'the variable holding the key, e.g. BILLING_API_KEY')
    .action(async (opts: Common & { envFile: string; var: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const current = readEnvVar(opts.envFile, opts.var);
      // Authenticated with the key itself, not the admin key.
      const rotated = await call<KeyView & { key: string; predecessor: { id: string; graceEndsAt: string | null } }>({ url: t.url, token: current }, 'POST', '/v1/keys/self/rotate', {});
      writeEnvVar(opts.envFile, opts.var, rotated.key);
      const summary = { id: rotated.id, predecessor: rotated.predecessor.id, predecessorWorksUntil: rotated.predecessor.graceEndsAt, file: opts.envFile, var: opts.var };
      print(common, summary, () => `rotated ${rotated.predecessor.id} → ${rotated.id}; ${opts.var} in ${opts.envFile} holds the new key (the old one works until ${rotated.predecessor.graceEndsAt ?? 'now'})`);
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
    .option('--webhook-url <url>', 'where leak notifications for this principal are POSTed')
    .option('--policy <name>', "lifetime policy of this principal's keys (default: the deployment default)")
    .action(async (opts: Common & { kind: string; name: string; email?: string; webhookUrl?: string; policy?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const principal = await call<KeyView>(t, 'POST', '/v1/principals', {
        kind: opts.kind,
        name: opts.name,
        ...(opts.email ? { email: opts.email } : {}),
        ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}),
        ...(opts.policy ? { policy: opts.policy } : {}),
      });
      print(common, principal, () => record(principal));
    });
  client(principals.command('list').description('list principals'))
    .addOption(new Option('--kind <kind>', 'only this kind').choices(['user', 'service']))
    .option('--limit <n>', 'page size (1-1000)', checked(limitOption))
    .option('--after <id>', 'cursor: the last id of the previous page')
    .action(async (opts: Common & { kind?: string; limit?: string; after?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const query = new URLSearchParams();
      if (opts.kind) query.set('kind', opts.kind);
      if (opts.limit) query.set('limit', opts.limit);
      if (opts.after) query.set('after', opts.after);
      const page = await call<Page>(t, 'GET', `/v1/principals${query.size ? `?${query}` : ''}`);
      const again = `keyturn principals list${opts.kind ? ` --kind ${opts.kind}` : ''}${opts.limit ? ` --limit ${opts.limit}` : ''}`;
      print(common, page, () => listing(page, ['id', 'kind', 'name', 'email', 'status', 'createdAt'], 'no principals', again));
    });

  for (const [verb, status] of [['disable', 'disabled'], ['enable', 'enabled']] as const) {
    client(principals.command(verb).description(`${verb} a principal (its keys ${verb === 'disable' ? 'stop' : 'start'} verifying at once)`).argument('<principal>', 'id or name'))
      .action(async (who: string, _opts: Common, cmd: Command) => {
        const [t, common] = target(cmd, io);
        const p = await call<KeyView>(t, 'POST', `/v1/principals/${encodeURIComponent(who)}/${verb}`, {});
        print(common, p, () => `${status} ${p.id}`);
      });
  }

  client(principals.command('set-policy').description("name the lifetime policy of a principal's keys (none: the deployment default)").argument('<principal>', 'id or name').argument('<policy>', 'policy name, or none'))
    .action(async (who: string, policy: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const p = await call<KeyView>(t, 'PUT', `/v1/principals/${encodeURIComponent(who)}/policy`, { policy: policy === 'none' ? null : policy });
      print(common, p, () => `${p.id} follows ${policy === 'none' ? 'the deployment default policy' : `policy ${policy}`}`);
    });

  const clients = program.command('clients').description('OAuth 2.0 clients');
  type ClientOut = Record<string, unknown> & { clientId: string; client_secret?: string | null };
  client(clients.command('create').description('register a confidential client; the secret is printed once'))
    .requiredOption('--name <name>', 'client name')
    .option('--owner <principal>', 'owner principal (default: a new service principal named like the client)')
    .option('--scopes <list>', 'allowed scopes, comma-separated', checked(scopesOption), [] as string[])
    .option('--grant-types <list>', 'client_credentials,refresh_token,urn:ietf:params:oauth:grant-type:token-exchange', checked(commaList('--grant-types', 'grant type')))
    .option('--audiences <list>', 'allowed audiences/resources, comma-separated (default: the issuer)', checked(commaList('--audiences', 'audience')))
    .option('--resource-server-for <list>', 'audiences this client serves: it may introspect their tokens (RFC 7662 section 4), comma-separated', checked(commaList('--resource-server-for', 'audience')))
    .option('--policy <name>', 'lifetime policy: default, banking, public-read, internal, or one created with keyturn policies create')
    .option('--client-credentials-refresh', 'also issue a refresh token with client_credentials (needs the refresh_token grant type; off by default, RFC 6749 section 4.4.3)')
    .addOption(new Option('--auth-method <method>', 'client authentication').choices(['client_secret_basic', 'client_secret_post', 'private_key_jwt']))
    .option('--jwks <file>', 'JSON file with the public JWK Set (private_key_jwt)')
    .addOption(new Option('--alg <alg>', 'access token signing algorithm').choices(['ES256', 'EdDSA']))
    .action(async (opts: Common & { name: string; owner?: string; scopes: string[]; grantTypes?: string[]; audiences?: string[]; resourceServerFor?: string[]; policy?: string; clientCredentialsRefresh?: boolean; authMethod?: string; jwks?: string; alg?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      let jwks: unknown;
      if (opts.jwks) {
        try {
          jwks = JSON.parse(readFileSync(opts.jwks, 'utf8'));
        } catch {
          throw new KeyturnError('ERR_VALIDATION', `--jwks: cannot read a JSON JWK Set from ${opts.jwks}`);
        }
      }
      const created = await call<ClientOut>(t, 'POST', '/v1/clients', {
        name: opts.name,
        scopes: opts.scopes,
        ...(opts.owner ? { owner: opts.owner } : {}),
        ...(opts.grantTypes ? { grantTypes: opts.grantTypes } : {}),
        ...(opts.audiences ? { audiences: opts.audiences } : {}),
        ...(opts.resourceServerFor ? { resourceServerFor: opts.resourceServerFor } : {}),
        ...(opts.policy ? { policy: opts.policy } : {}),
        ...(opts.clientCredentialsRefresh ? { policyOverrides: { clientCredentialsRefresh: true } } : {}),
        ...(opts.authMethod ? { authMethod: opts.authMethod } : {}),
        ...(jwks ? { jwks } : {}),
        ...(opts.alg ? { accessTokenAlg: opts.alg } : {}),
      });
      print(common, created, () =>
        [
          `client_id      ${created.clientId}`,
          ...(created.client_secret ? [`client_secret  ${created.client_secret}`, '', 'Store the secret now: keyturn keeps only its digest and cannot show it again.'] : []),
        ].join('\n'),
      );
    });
  client(clients.command('update').description('change what a client may do; it applies at its next token request or refresh').argument('<client_id>', 'client id'))
    .option('--scopes <list>', 'allowed scopes, comma-separated (replaces them)', checked(scopesOption))
    .option('--grant-types <list>', 'client_credentials,refresh_token,urn:ietf:params:oauth:grant-type:token-exchange (replaces them)', checked(commaList('--grant-types', 'grant type')))
    .option('--audiences <list>', 'allowed audiences/resources, comma-separated (replaces them)', checked(commaList('--audiences', 'audience')))
    .option('--resource-server-for <list>', 'audiences this client serves: it may introspect their tokens (RFC 7662 section 4), comma-separated (replaces them)', checked(commaList('--resource-server-for', 'audience')))
    .option('--policy <name>', 'lifetime policy preset: default, banking, public-read')
    .action(async (id: string, opts: Common & { scopes?: string[]; grantTypes?: string[]; audiences?: string[]; resourceServerFor?: string[]; policy?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const body = {
        ...(opts.scopes ? { scopes: opts.scopes } : {}),
        ...(opts.grantTypes ? { grantTypes: opts.grantTypes } : {}),
        ...(opts.audiences ? { audiences: opts.audiences } : {}),
        ...(opts.resourceServerFor ? { resourceServerFor: opts.resourceServerFor } : {}),
        ...(opts.policy ? { policy: opts.policy } : {}),
      };
      if (Object.keys(body).length === 0) throw usageError('clients update: give at least one of --scopes, --grant-types, --audiences, --resource-server-for, --policy');
      const c = await call<ClientOut>(t, 'PATCH', `/v1/clients/${encodeURIComponent(id)}`, body);
      print(common, c, () => `updated ${c.clientId}`);
    });
  client(clients.command('list').description('list clients'))
    .option('--limit <n>', 'page size (1-1000)', checked(limitOption))
    .option('--after <client_id>', 'cursor: the last client id of the previous page')
    .action(async (opts: Common & { limit?: string; after?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const query = new URLSearchParams();
      if (opts.limit) query.set('limit', opts.limit);
      if (opts.after) query.set('after', opts.after);
      const page = await call<{ items: ClientOut[]; next?: string | null }>(t, 'GET', `/v1/clients${query.size ? `?${query}` : ''}`);
      const again = `keyturn clients list${opts.limit ? ` --limit ${opts.limit}` : ''}`;
      print(common, page, () => listing(page, ['clientId', 'name', 'status', 'authMethod', 'scopes', 'grantTypes'], 'no clients', again));
    });
  client(clients.command('show').description('show a client').argument('<client_id>', 'client id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const c = await call<ClientOut>(t, 'GET', `/v1/clients/${encodeURIComponent(id)}`);
      print(common, c, () => record(c));
    });
  client(clients.command('disable').description('disable a client: its next token request or refresh fails').argument('<client_id>', 'client id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const c = await call<ClientOut>(t, 'POST', `/v1/clients/${encodeURIComponent(id)}/disable`, {});
      print(common, c, () => `disabled ${c.clientId}`);
    });
  client(clients.command('enable').description('enable a disabled client').argument('<client_id>', 'client id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const c = await call<ClientOut>(t, 'POST', `/v1/clients/${encodeURIComponent(id)}/enable`, {});
      print(common, c, () => `enabled ${c.clientId}`);
    });
  client(clients.command('delete').description('delete a client and its grants').argument('<client_id>', 'client id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd, io);
      await call(t, 'DELETE', `/v1/clients/${encodeURIComponent(id)}`);
      print(common, { deleted: id }, () => `deleted ${id}`);
    });
  client(clients.command('rotate-secret').description('issue a new secret; the old one works for the overlap').argument('<client_id>', 'client id'))
    .option('--grace <duration>', 'how long the old secret keeps working, e.g. 1h (default: the policy; 0 ends it now)', checked(graceOption))
    .action(async (id: string, opts: Common & { grace?: number }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const graceSeconds = opts.grace;
      const c = await call<ClientOut>(t, 'POST', `/v1/clients/${encodeURIComponent(id)}/rotate-secret`, graceSeconds === undefined ? {} : { graceSeconds });
      print(common, c, () => `client_secret  ${c.client_secret}\n\nStore the secret now: keyturn keeps only its digest and cannot show it again.`);
    });

  const signing = program.command('signing-keys').description('the signing key ring (JWKS)');
  client(signing.command('list').description('list signing keys (never the private halves)'))
    .action(async (_opts: Common, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const page = await call<{ items: Record<string, unknown>[] }>(t, 'GET', '/v1/signing-keys');
      print(common, page, () => table(page.items, ['kid', 'alg', 'status', 'activatedAt', 'retiredAt', 'publishUntil']));
    });
  client(signing.command('rotate').description('rotate now: next becomes active, active is retired (published until its tokens expire)'))
    .addOption(new Option('--alg <alg>', 'only this algorithm').choices(['ES256', 'EdDSA']))
    .action(async (opts: Common & { alg?: string }, cmd: Command) => {
      const [t, common] = target(cmd, io);
      const result = await call<{ activated: string[] }>(t, 'POST', '/v1/signing-keys/rotate', opts.alg ? { alg: opts.alg } : {});
      print(common, result, () => `activated ${result.activated.join(', ') || 'nothing'}`);
    });

  program.addCommand(scanCommand());
  program.addCommand(hooksCommand(io));
  program.addCommand(watchCommand(io));
  program.addCommand(policiesCommand(io));

  // Every command, including those built apart (scan, watch), reports a usage error as one
  // `keyturn: …` line and exit 2 — `scan` exits 1 for findings, so a typo must never read as one.
  const output = {
    writeOut: (s: string) => io.out(s.replace(/\n$/, '')),
    writeErr: (s: string) => io.err(s.replace(/\n$/, '')),
    outputError: (s: string, write: (s: string) => void) => write(`keyturn: ${s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`),
  };
  const everyCommand = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(everyCommand)];
  for (const cmd of everyCommand(program)) cmd.exitOverride().configureOutput(output).showSuggestionAfterError(true);
  return program;
}

/** A Node system error (`EADDRINUSE`, `EACCES`, …) as thrown by `listen`, `mkdir`, `open`. */
function systemError(err: unknown): (Error & { code: string; syscall?: string; path?: string; address?: string; port?: number }) | undefined {
  const e = err instanceof KeyturnError && err.cause !== undefined ? err.cause : err;
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && /^E[A-Z]+$/.test((e as unknown as { code: string }).code)
    ? (e as Error & { code: string })
    : undefined;
}

/** What the system said, without Node's `EACCES: …, mkdir '…'` decoration. */
function systemReason(err: Error & { code: string }): string {
  return err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
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
    if (err instanceof KeyturnError && err.code === 'ERR_CONFIG') {
      io.err(`keyturn: ${err.code}: ${err.message}`);
      return 2;
    }
    const sys = systemError(err);
    if (sys?.code === 'EADDRINUSE') {
      const where = sys.address === undefined ? 'the address' : `${sys.address}:${sys.port ?? ''}`;
      io.err(`keyturn: ERR_ADDRESS_IN_USE: ${where} is already in use (another keyturn running?); pick another with --port`);
      return 1;
    }
    if (sys?.path !== undefined) {
      io.err(`keyturn: ERR_FILESYSTEM: cannot ${sys.syscall ?? 'use'} ${sys.path}: ${systemReason(sys)}`);
      return 1;
    }
    if (err instanceof KeyturnError) {
      io.err(`keyturn: ${err.code}: ${err.message}`);
      return 1;
    }
    io.err(`keyturn: ERR_INTERNAL: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
