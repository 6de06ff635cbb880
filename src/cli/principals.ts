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
  client(
    principals
      .command('offboard')
      .description('offboard a person: revoke what they hold, disable or hand over their clients, rotate every credential they saw, mark them offboarded')
      .argument('<principal>', 'id or name'),
  )
    .option('--dry-run', 'print the plan and change nothing (the real run does exactly this plan)')
    .option('--transfer-to <principal>', 'hand the OAuth clients they own over to this principal (default: disable them)')
    .action(async (who: string, opts: Common & { dryRun?: boolean; transferTo?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
      let report = await call<OffboardingOut>(t, 'POST', `/v1/principals/${encodeURIComponent(who)}/offboard`, {
        ...(opts.dryRun ? { dryRun: true } : {}),
        ...(opts.transferTo ? { transferTo: opts.transferTo } : {}),
      });
      // A long offboarding goes on in the server's job: follow it to its end (interrupting this
      // command does not stop it; `keyturn principals offboarding <id>` shows it later).
      while (report.status === 'running') {
        await new Promise((resolve) => setTimeout(resolve, 500));
        report = await call<OffboardingOut>(t, 'GET', `/v1/principals/${encodeURIComponent(report.principal)}/offboarding`);
      }
      print(common, report, () => offboardingText(report));
    });
  client(principals.command('offboarding').description('show what the offboarding of a principal did (or is doing)').argument('<principal>', 'id or name'))
    .action(async (who: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const report = await call<OffboardingOut>(t, 'GET', `/v1/principals/${encodeURIComponent(who)}/offboarding`);
      print(common, report, () => offboardingText(report));
    });
  return principals;
}

interface OffboardingOut {
  id: string | null;
  principal: string;
  principalName: string;
  transferTo: string | null;
  dryRun: boolean;
  status: string;
  counts: Record<string, number>;
  done: number;
  skipped: number;
  steps: { seq: number; action: string; target: string; outcome: string | null; detail: Record<string, string | null> | null }[];
}

const ACTION_TEXT: Record<string, string> = {
  revoke_key: 'revoke API key',
  revoke_grant: 'revoke refresh-token family',
  revoke_access_token: 'revoke access token',
  disable_client: 'disable OAuth client',
  transfer_client: 'hand over OAuth client',
  rotate_key: 'rotate API key (successor sealed for an administrator)',
  rotate_client_secret: 'rotate client secret (new secret sealed for an administrator)',
};

/** The plan or the record: the counts, then one line per step (every step: the dry run prints the whole plan). */
function offboardingText(r: OffboardingOut): string {
  const head = r.dryRun
    ? `plan to offboard ${r.principalName} (${r.principal}); nothing was changed`
    : `${r.status === 'done' ? 'offboarded' : 'offboarding'} ${r.principalName} (${r.principal}): ${r.id}, ${r.done} done, ${r.skipped} skipped, ${r.steps.length - r.done - r.skipped} to go`;
  const counts = Object.entries(r.counts).map(([a, n]) => `  ${String(n).padStart(6)}  ${ACTION_TEXT[a] ?? a}`);
  const shown = r.steps.map((s) => {
    const what = s.outcome === null ? '' : `  ${s.outcome}${s.detail?.successor ? ` → ${s.detail.successor}` : ''}${s.detail?.reason ? ` (${s.detail.reason})` : ''}`;
    return `  ${String(s.seq).padStart(6)}  ${s.action.padEnd(20)} ${s.target}${what}`;
  });
  const mark = `  first: ${r.dryRun ? 'mark' : 'marked'} ${r.principalName} offboarded (nothing they hold works from then on)`;
  const after = r.counts.rotate_key || r.counts.rotate_client_secret
    ? ['', 'Successors are sealed: hand them to their holders with keyturn keys reveal-successor <id> / keyturn clients reveal-secret <id> before the grace ends.']
    : [];
  return [head, mark, ...counts, '', ...(r.steps.length === 0 ? ['  no credentials to revoke or rotate'] : shown), ...after].join('\n');
}
