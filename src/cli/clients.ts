import { Command, Option } from 'commander';
import { call, clientOptions as client, commandTarget, usageError, type ClientFlags as Common } from './client.js';
import { readFileSync } from 'node:fs';
import { KeyturnError } from '../core/errors.js';
import { listing, record } from './format.js';
import { checked, commaList, graceOption, limitOption, scopesOption } from './options.js';
import { printer, type Io } from './run.js';

/**
 * `keyturn clients …`: OAuth 2.0 clients.
 *
 * @example
 * ```sh
 * keyturn clients create --name reporting --scopes read --audiences https://api.example.com
 * ```
 */
export function clientsCommand(io: Io): Command {
  const print = printer(io);
  const target = (cmd: Command) => commandTarget(cmd, io.env);
  const clients = new Command('clients').description('OAuth 2.0 clients');
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
      const [t, common] = target(cmd);
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
    .option('--policy <name>', 'lifetime policy: default, banking, public-read, internal, or one created with keyturn policies create')
    .action(async (id: string, opts: Common & { scopes?: string[]; grantTypes?: string[]; audiences?: string[]; resourceServerFor?: string[]; policy?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
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
      const [t, common] = target(cmd);
      const query = new URLSearchParams();
      if (opts.limit) query.set('limit', opts.limit);
      if (opts.after) query.set('after', opts.after);
      const page = await call<{ items: ClientOut[]; next?: string | null }>(t, 'GET', `/v1/clients${query.size ? `?${query}` : ''}`);
      const again = `keyturn clients list${opts.limit ? ` --limit ${opts.limit}` : ''}`;
      print(common, page, () => listing(page, ['clientId', 'name', 'status', 'authMethod', 'scopes', 'grantTypes'], 'no clients', again));
    });
  client(clients.command('show').description('show a client').argument('<client_id>', 'client id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const c = await call<ClientOut>(t, 'GET', `/v1/clients/${encodeURIComponent(id)}`);
      print(common, c, () => record(c));
    });
  client(clients.command('disable').description('disable a client: its next token request or refresh fails').argument('<client_id>', 'client id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const c = await call<ClientOut>(t, 'POST', `/v1/clients/${encodeURIComponent(id)}/disable`, {});
      print(common, c, () => `disabled ${c.clientId}`);
    });
  client(clients.command('enable').description('enable a disabled client').argument('<client_id>', 'client id'))
    .option('--ack-leak', "acknowledge the open leak findings of the client's secret (required when it was found leaked; recorded as who acknowledged)")
    .action(async (id: string, opts: Common & { ackLeak?: boolean }, cmd: Command) => {
      const [t, common] = target(cmd);
      const c = await call<ClientOut>(t, 'POST', `/v1/clients/${encodeURIComponent(id)}/enable`, opts.ackLeak ? { ackLeak: true } : {});
      print(common, c, () => `enabled ${c.clientId}${opts.ackLeak ? ' (leak findings acknowledged)' : ''}`);
    });
  client(clients.command('delete').description('delete a client and its grants').argument('<client_id>', 'client id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      await call(t, 'DELETE', `/v1/clients/${encodeURIComponent(id)}`);
      print(common, { deleted: id }, () => `deleted ${id}`);
    });
  client(clients.command('rotate-secret').description('issue a new secret; the old one works for the overlap').argument('<client_id>', 'client id'))
    .option('--grace <duration>', 'how long the old secret keeps working, e.g. 1h (default: the policy; 0 ends it now)', checked(graceOption))
    .action(async (id: string, opts: Common & { grace?: number }, cmd: Command) => {
      const [t, common] = target(cmd);
      const graceSeconds = opts.grace;
      const c = await call<ClientOut>(t, 'POST', `/v1/clients/${encodeURIComponent(id)}/rotate-secret`, graceSeconds === undefined ? {} : { graceSeconds });
      print(common, c, () => `client_secret  ${c.client_secret}\n\nStore the secret now: keyturn keeps only its digest and cannot show it again.`);
    });
  client(clients.command('reveal-secret').description('collect a client secret an offboarding rotated and sealed: printed once, you are recorded as exposed to it').argument('<client_id>', 'client id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const c = await call<{ clientSecret: string }>(t, 'POST', `/v1/clients/${encodeURIComponent(id)}/reveal-secret`, {});
      print(common, c, () => `client_secret  ${c.clientSecret}\n\nHand the secret to the client's operator now: keyturn keeps only its digest and cannot show it again.`);
    });
  return clients;
}
