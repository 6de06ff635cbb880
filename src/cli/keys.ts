import { Command } from 'commander';
import { call, clientOptions as client, commandTarget, type ClientFlags as Common } from './client.js';
import { listing, record } from './format.js';
import { readEnvVar, writeEnvVar } from './env-file.js';
import { checked, durationOption, graceOption, limitOption, scopesOption } from './options.js';
import { printer, type Io } from './run.js';

type KeyView = Record<string, unknown> & { id: string };
type Page = { items: KeyView[]; next: string | null };

const KEY_COLUMNS = ['id', 'name', 'principal', 'start', 'last4', 'scopes', 'status', 'expiresAt'];

/**
 * `keyturn keys …`: API keys — create, list, show, revoke, suspend, unsuspend, rotate, self-rotate, verify.
 *
 * @example
 * ```sh
 * keyturn keys create --owner billing --name ci --scopes read
 * ```
 */
export function keysCommand(io: Io): Command {
  const print = printer(io);
  const target = (cmd: Command) => commandTarget(cmd, io.env);
  const keys = new Command('keys').description('API keys');
  client(keys.command('create').description('create an API key; the key is printed once'))
    .requiredOption('--owner <principal>', 'owner principal (id or name)')
    .requiredOption('--name <name>', 'a name for the key')
    .option('--scopes <list>', 'comma-separated scopes', checked(scopesOption), [] as string[])
    .option('--expires-in <duration>', 'lifetime, e.g. 90s, 12h, 30d, 1y', checked(durationOption))
    .option('--policy <name>', "lifetime policy (default: the owner's, then the deployment default)")
    .action(async (opts: Common & { owner: string; name: string; scopes: string[]; expiresIn?: string; policy?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
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
      const [t, common] = target(cmd);
      const query = new URLSearchParams();
      if (opts.owner) query.set('owner', opts.owner);
      if (opts.limit) query.set('limit', opts.limit);
      if (opts.after) query.set('after', opts.after);
      const page = await call<Page>(t, 'GET', `/v1/keys${query.size ? `?${query}` : ''}`);
      print(common, page, () => listing(page, KEY_COLUMNS, 'no keys', `keyturn keys list${opts.owner ? ` --owner ${opts.owner}` : ''}${opts.limit ? ` --limit ${opts.limit}` : ''}`));
    });
  client(keys.command('show').description('show one API key').argument('<id>', 'key id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const key = await call<KeyView>(t, 'GET', `/v1/keys/${encodeURIComponent(id)}`);
      // "used from": one network per entry, newest first, with its count of uses.
      const usedFrom = Array.isArray(key['usedFrom']) ? (key['usedFrom'] as { network: string; count: number }[]).map((u) => `${u.network} (${u.count})`).join(', ') || null : key['usedFrom'];
      print(common, key, () => record({ ...key, ...(key['usedFrom'] === undefined ? {} : { usedFrom }) }));
    });
  client(keys.command('revoke').description('revoke an API key for good').argument('<id>', 'key id'))
    .option('--reason <text>', 'why (recorded in the event)')
    .action(async (id: string, opts: Common & { reason?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
      // Revoking is idempotent on the server; the user still hears that this call changed nothing.
      const before = await call<KeyView>(t, 'GET', `/v1/keys/${encodeURIComponent(id)}`);
      const key = await call<KeyView>(t, 'POST', `/v1/keys/${encodeURIComponent(id)}/revoke`, opts.reason ? { reason: opts.reason } : {});
      print(common, key, () => (before.status === 'revoked' ? `${key.id} was already revoked (at ${String(key.revokedAt)}); nothing changed` : `revoked ${key.id}`));
    });
  client(keys.command('suspend').description('quarantine an API key: verification fails until unsuspended').argument('<id>', 'key id'))
    .option('--reason <text>', 'why (recorded in the event)')
    .action(async (id: string, opts: Common & { reason?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
      const key = await call<KeyView>(t, 'POST', `/v1/keys/${encodeURIComponent(id)}/suspend`, opts.reason ? { reason: opts.reason } : {});
      print(common, key, () => `suspended ${key.id}`);
    });
  client(keys.command('unsuspend').description('lift a suspension (e.g. after a leak turned out harmless)').argument('<id>', 'key id'))
    .option('--ack-leak', 'acknowledge the key\'s open leak findings (required when it was found leaked; recorded as who acknowledged)')
    .action(async (id: string, opts: Common & { ackLeak?: boolean }, cmd: Command) => {
      const [t, common] = target(cmd);
      const key = await call<KeyView>(t, 'POST', `/v1/keys/${encodeURIComponent(id)}/unsuspend`, opts.ackLeak ? { ackLeak: true } : {});
      print(common, key, () => `unsuspended ${key.id}${opts.ackLeak ? ' (leak findings acknowledged)' : ''}`);
    });
  client(keys.command('rotate').description('issue the successor now (printed once); the key keeps working for its grace').argument('<id>', 'key id'))
    .option('--grace <duration>', 'how long the old key keeps working, e.g. 1h (default and most: the policy\'s; 0 ends it now)', checked(graceOption))
    .action(async (id: string, opts: Common & { grace?: number }, cmd: Command) => {
      const [t, common] = target(cmd);
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
  client(keys.command('self-rotate').description('rotate the key held in an env file with the key itself, and write the successor there (for deploy scripts)'))
    .requiredOption('--env-file <file>', 'the env file holding the key, e.g. .env')
    .requiredOption('--var <name>', 'the variable holding the key, e.g. BILLING_API_KEY')
    .action(async (opts: Common & { envFile: string; var: string }, cmd: Command) => {
      const [t, common] = target(cmd);
      const current = readEnvVar(opts.envFile, opts.var);
      // Authenticated with the key itself, not the admin key.
      const rotated = await call<KeyView & { key: string; predecessor: { id: string; graceEndsAt: string | null } }>({ url: t.url, token: current }, 'POST', '/v1/keys/self/rotate', {});
      writeEnvVar(opts.envFile, opts.var, rotated.key);
      const summary = { id: rotated.id, predecessor: rotated.predecessor.id, predecessorWorksUntil: rotated.predecessor.graceEndsAt, file: opts.envFile, var: opts.var };
      print(common, summary, () => `rotated ${rotated.predecessor.id} → ${rotated.id}; ${opts.var} in ${opts.envFile} holds the new key (the old one works until ${rotated.predecessor.graceEndsAt ?? 'now'})`);
    });
  client(keys.command('verify').description('check a key (use - to read it from standard input); exit 1 when invalid').argument('<key>', 'the API key, or -'))
    .action(async (key: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const presented = key === '-' ? (await io.stdin()).trim() : key;
      const answer = await call<{ valid: boolean; code?: string; keyId?: string; scopes?: string[] }>(t, 'POST', '/v1/keys/verify', { key: presented });
      print(common, answer, () => (answer.valid ? `valid: ${answer.keyId} scopes=${(answer.scopes ?? []).join(',') || '-'}` : `invalid: ${answer.code}`));
      if (!answer.valid) process.exitCode = 1;
    });
  client(keys.command('reveal-successor').description('collect a sealed successor (an offboarding or leak rotated the key): printed once, you are recorded as exposed to it').argument('<id>', 'the successor key id'))
    .action(async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const revealed = await call<KeyView & { key: string; predecessor: string | null }>(t, 'POST', `/v1/keys/${encodeURIComponent(id)}/reveal-successor`, {});
      print(common, revealed, () => `${revealed.key}\n\n${record({ id: revealed.id, name: revealed.name, predecessor: revealed.predecessor })}\n\nHand the key to its holder now: keyturn keeps only its digest and cannot show it again.`);
    });
  return keys;
}
