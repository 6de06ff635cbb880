import { Command, Option } from 'commander';
import { call, clientOptions as client, commandTarget, type ClientFlags as Common } from './client.js';
import { listing, record } from './format.js';
import { checked, limitOption } from './options.js';
import { printer, type Io } from './run.js';

type KeyView = Record<string, unknown> & { id: string };
type Page = { items: KeyView[]; next: string | null };

/**
 * `keyturn principals …`: people (user) and workloads (service) that credentials act for.
 *
 * @example
 * ```sh
 * keyturn principals create --kind service --name billing
 * ```
 */
export function principalsCommand(io: Io): Command {
  const print = printer(io);
  const target = (cmd: Command) => commandTarget(cmd, io.env);
  const principals = new Command('principals').description('people (user) and workloads (service) that credentials act for');
  client(principals.command('create').description('create a principal'))
    .addOption(new Option('--kind <kind>', 'user or service').choices(['user', 'service']).makeOptionMandatory())
    .requiredOption('--name <name>', 'unique name')
    .option('--email <email>', 'e-mail address (users)')
    .option('--webhook-url <url>', 'where leak notifications for this principal are POSTed')
    .option('--policy <name>', "lifetime policy of this principal's keys (default: the deployment default)")
    .action(async (opts: Common & { kind: string; name: string; email?: string; webhookUrl?: string; policy?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
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
      const [t, common] = target(cmd);
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
        const [t, common] = target(cmd);
        const p = await call<KeyView>(t, 'POST', `/v1/principals/${encodeURIComponent(who)}/${verb}`, {});
        print(common, p, () => `${status} ${p.id}`);
      });
  }
  client(principals.command('set-policy').description("name the lifetime policy of a principal's keys (none: the deployment default)").argument('<principal>', 'id or name').argument('<policy>', 'policy name, or none'))
    .action(async (who: string, policy: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const p = await call<KeyView>(t, 'PUT', `/v1/principals/${encodeURIComponent(who)}/policy`, { policy: policy === 'none' ? null : policy });
      print(common, p, () => `${p.id} follows ${policy === 'none' ? 'the deployment default policy' : `policy ${policy}`}`);
    });
  return principals;
}
