import { Command } from 'commander';
import { call, clientOptions as client, commandTarget, type ClientFlags as Common } from './client.js';
import { listing, record, table } from './format.js';
import { checked, limitOption } from './options.js';
import { printer, type Io } from './run.js';

type Health = { state: string; since: string | null; consecutiveFailures: number; lastError: string | null; lastStatus: number | null };
type Endpoint = Record<string, unknown> & { id: string; url: string; events: string[]; health?: Health };
type Delivery = Record<string, unknown> & { id: string; log: Record<string, unknown>[] };
type Page<T> = { items: T[]; next: string | null };

const ENDPOINT_COLUMNS = ['id', 'owner', 'url', 'events', 'origin', 'status', 'health', 'since', 'failures', 'lastError', 'createdAt'];

/** An endpoint with its health as flat columns (`health` down/up/unknown, `since`, `failures` in a row, `lastError`), for text output. */
function flat(endpoint: Endpoint): Record<string, unknown> {
  const { health, ...rest } = endpoint;
  return { ...rest, health: health?.state, since: health?.since, failures: health?.consecutiveFailures, lastError: health?.lastError };
}
const DELIVERY_COLUMNS = ['id', 'event', 'status', 'attempts', 'createdAt', 'settledAt', 'nextAttemptAt', 'lastError'];

/** The pages of a listing query, from the common flags. */
function pageQuery(opts: { limit?: string; after?: string }, more: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(more)) if (v !== undefined) query.set(k, v);
  if (opts.limit) query.set('limit', opts.limit);
  if (opts.after) query.set('after', opts.after);
  return query.size ? `?${query}` : '';
}

/**
 * `keyturn webhooks …`: signed webhooks (Standard Webhooks) to credential owners — add (the secret
 * is printed once), list, show, remove, rotate-secret, deliveries (the log of one endpoint), replay.
 *
 * @example
 * ```sh
 * keyturn webhooks add https://hooks.example.com/keyturn --owner billing --events key.rotated,key.leaked
 * keyturn webhooks deliveries whe_…
 * keyturn webhooks replay obx_…
 * ```
 */
export function webhooksCommand(io: Io): Command {
  const print = printer(io);
  const target = (cmd: Command) => commandTarget(cmd, io.env);
  const hooks = new Command('webhooks').description('signed webhooks to credential owners (Standard Webhooks)');
  client(hooks.command('add').description('add an endpoint; its signing secret is printed once').argument('<url>', 'http(s) URL the events are POSTed to'))
    .option('--owner <principal>', "only this principal's credentials (id or name; default: every principal's)")
    .option('--events <list>', 'comma-separated: key.rotation_due, key.rotated, key.expiring, key.revoked, key.leaked, client.secret_rotation_due, client.secret_expiring (default: all)')
    .action(async (url: string, opts: Common & { owner?: string; events?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
      const events = opts.events?.split(',').map((e) => e.trim()).filter((e) => e !== '');
      const created = await call<Endpoint & { secret: string }>(t, 'POST', '/v1/webhooks', { url, ...(opts.owner ? { owner: opts.owner } : {}), ...(events ? { events } : {}) });
      print(
        common,
        created,
        () =>
          `${created.secret}\n\n${record({ id: created.id, owner: created.owner, url: created.url, events: created.events.join(',') })}\n\nStore the secret now: keyturn signs every delivery with it (webhook-signature) and cannot show it again.`,
      );
    });
  client(hooks.command('list').description('list endpoints (never their secrets)'))
    .option('--owner <principal>', 'only endpoints of this principal')
    .option('--all', 'removed endpoints too')
    .option('--limit <n>', 'page size (1-1000)', checked(limitOption))
    .option('--after <id>', 'cursor: the last id of the previous page')
    .action(async (opts: Common & { owner?: string; all?: boolean; limit?: string; after?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
      const page = await call<Page<Endpoint>>(t, 'GET', `/v1/webhooks${pageQuery(opts, { owner: opts.owner, all: opts.all ? 'true' : undefined })}`);
      print(common, page, () => listing({ ...page, items: page.items.map(flat) }, ENDPOINT_COLUMNS, 'no webhook endpoints', `keyturn webhooks list${opts.owner ? ` --owner ${opts.owner}` : ''}${opts.all ? ' --all' : ''}${opts.limit ? ` --limit ${opts.limit}` : ''}`));
    });
  client(hooks.command('show').description('show one endpoint').argument('<endpoint-id>', 'endpoint id')).action(async (id: string, _opts: Common, cmd: Command) => {
    const [t, common] = target(cmd);
    const endpoint = await call<Endpoint>(t, 'GET', `/v1/webhooks/${encodeURIComponent(id)}`);
    print(common, endpoint, () => record(flat(endpoint)));
  });
  client(hooks.command('remove').description('remove an endpoint: nothing more is sent to it, pending deliveries are cancelled').argument('<endpoint-id>', 'endpoint id')).action(
    async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const endpoint = await call<Endpoint>(t, 'DELETE', `/v1/webhooks/${encodeURIComponent(id)}`);
      print(common, endpoint, () => `removed ${endpoint.id}`);
    },
  );
  client(hooks.command('rotate-secret').description('replace the signing secret (printed once); the old one signs beside it for 24 h').argument('<endpoint-id>', 'endpoint id')).action(
    async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const rotated = await call<Endpoint & { secret: string; previousSecretUntil: string | null }>(t, 'POST', `/v1/webhooks/${encodeURIComponent(id)}/rotate-secret`, {});
      print(common, rotated, () => `${rotated.secret}\n\nThe previous secret also signs deliveries until ${rotated.previousSecretUntil ?? '-'}. Store the new one now: it is not shown again.`);
    },
  );
  client(hooks.command('deliveries').description("an endpoint's delivery log, oldest first").argument('<endpoint-id>', 'endpoint id'))
    .option('--limit <n>', 'page size (1-1000)', checked(limitOption))
    .option('--after <id>', 'cursor: the last id of the previous page')
    .option('--attempts', 'every attempt of each delivery')
    .action(async (id: string, opts: Common & { limit?: string; after?: string; attempts?: boolean }, cmd: Command) => {
      const [t, common] = target(cmd);
      const page = await call<Page<Delivery>>(t, 'GET', `/v1/webhooks/${encodeURIComponent(id)}/deliveries${pageQuery(opts)}`);
      print(common, page, () => {
        const text = listing(page, DELIVERY_COLUMNS, 'no deliveries', `keyturn webhooks deliveries ${id}${opts.limit ? ` --limit ${opts.limit}` : ''}`);
        if (!opts.attempts) return text;
        const attempts = page.items.flatMap((d) => d.log.map((a) => ({ delivery: d.id, ...a })));
        return `${text}\n\n${table(attempts, ['delivery', 'attempt', 'startedAt', 'outcome', 'status', 'error', 'durationMs', 'node'])}`;
      });
    });
  client(hooks.command('replay').description('send a delivered or failed delivery again (same webhook-id)').argument('<delivery-id>', 'delivery id (from deliveries)')).action(
    async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const delivery = await call<Delivery>(t, 'POST', `/v1/webhooks/deliveries/${encodeURIComponent(id)}/replay`, {});
      print(common, delivery, () => `replaying ${delivery.id} to ${String(delivery.endpoint)} (${String(delivery.event)})`);
    },
  );
  return hooks;
}
