import { Command, CommanderError, Option } from 'commander';
import { parseDuration } from '../core/duration.js';
import { BINDINGS } from '../core/policy.js';

/** Seconds as the largest unit that divides them (`2592000` → `30d`). */
function formatSeconds(total: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) if (total % size === 0) return `${total / size}${unit}`;
  return `${total}s`;
}
import { call, clientOptions, commandTarget, type ClientFlags } from './client.js';
import { record, table } from './format.js';

/** Where a command writes (the same shape as the program's `Io`). */
export interface PoliciesIo {
  readonly out: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

type Common = ClientFlags;
type PolicyOut = { name: string; version: number; policy: Record<string, unknown>; versions?: { version: number; createdAt: string; governs: { apiKeys: number; clientSecrets: number } }[] };

/** A duration flag in whole seconds; `never` (intervals and maximum ages) is `null`. */
function seconds(flag: string, nullable: boolean): (value: string) => number | 'never' {
  return (value) => {
    // Kept as `never` (commander replaces a parsed null); the body turns it into null.
    if (nullable && value === 'never') return 'never';
    try {
      return value === '0' ? 0 : Math.floor(parseDuration(value) / 1000);
    } catch (err) {
      throw new CommanderError(2, 'keyturn.invalidArgument', `${flag}: ${err instanceof Error ? err.message : String(err)}${nullable ? ' (or never)' : ''}`);
    }
  };
}

/** The policy fields settable from flags: flag, field, nullable (`never`). */
const DURATION_FLAGS = [
  ['--key-rotation-interval', 'keyRotationInterval', true, 'rotate API keys at this age (e.g. 30d; never: only on demand)'],
  ['--key-max-age', 'keyMaxAge', true, "API keys' deadline (e.g. 90d, or never)"],
  ['--key-grace', 'keyRotationGrace', false, 'how long a rotated API key keeps working (also the most a rotation may ask for)'],
  ['--secret-rotation-interval', 'secretRotationInterval', true, 'rotate client secrets at this age (or never)'],
  ['--secret-max-age', 'secretMaxAge', true, "client secrets' deadline (or never)"],
  ['--secret-grace', 'secretRotationGrace', false, 'how long a rotated client secret keeps working'],
  ['--access-token-ttl', 'accessTokenTtl', false, 'access token lifetime'],
  ['--refresh-token-ttl', 'refreshTokenTtl', false, 'refresh token idle lifetime'],
  ['--refresh-family-ttl', 'refreshFamilyTtl', false, 'refresh token family absolute lifetime'],
  ['--exchange-token-ttl', 'exchangeTokenTtl', false, 'token exchange access token lifetime'],
] as const;

type FieldFlags = Common & Record<string, unknown> & { deadline?: string; accessTokenFormat?: string; refreshTokens?: string; binding?: string };

function withFieldFlags(cmd: Command): Command {
  for (const [flag, , nullable, description] of DURATION_FLAGS) cmd.option(`${flag} <duration>`, description, seconds(flag, nullable));
  cmd.addOption(new Option('--deadline <kind>', 'at a deadline: hard (stops) or soft (keeps working, flagged and reported)').choices(['hard', 'soft']));
  cmd.addOption(new Option('--access-token-format <format>', 'jwt or opaque').choices(['jwt', 'opaque']));
  cmd.addOption(new Option('--refresh-tokens <on>', 'issue refresh tokens').choices(['on', 'off']));
  cmd.addOption(new Option('--binding <kind>', 'binding every token must carry: none, dpop, mtls, tls-session or any').choices([...BINDINGS]));
  return cmd;
}

/** The API body of the field flags given. */
function fieldsOf(opts: FieldFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [flag, field] of DURATION_FLAGS) {
    const key = flag.slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    if (opts[key] !== undefined) body[field] = opts[key] === 'never' ? null : opts[key];
  }
  if (opts.deadline) body.deadline = opts.deadline;
  if (opts.accessTokenFormat) body.accessTokenFormat = opts.accessTokenFormat;
  if (opts.refreshTokens) body.refreshTokens = opts.refreshTokens === 'on';
  if (opts.binding) body.binding = opts.binding;
  return body;
}

/** A policy's fields for text output: durations readable, `never` for none. */
function readable(policy: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(policy)) {
    if (k === 'name') continue;
    const isDuration = /Ttl$|Interval$|MaxAge$|Grace$|GraceSeconds$/.test(k);
    out[k] = isDuration ? (v === null ? 'never' : typeof v === 'number' ? (v === 0 ? '0' : formatSeconds(v)) : v) : v;
  }
  return out;
}

/**
 * `keyturn policies create|list|show|update`: named, versioned lifetime policies.
 *
 * @example
 * ```sh
 * keyturn policies create payments --from banking --key-grace 30m
 * keyturn policies update payments --key-rotation-interval 12h   # version 2
 * keyturn policies show payments                                  # how many credentials each version governs
 * ```
 */
export function policiesCommand(io: PoliciesIo): Command {
  const policies = new Command('policies').description('lifetime and rotation policies (named, versioned)');
  const print = (opts: Common, json: unknown, text: () => string) => io.out(opts.json ? JSON.stringify(json, null, 2) : text());
  const target = (cmd: Command) => commandTarget(cmd, io.env);

  clientOptions(withFieldFlags(policies.command('create').description('create a policy, starting from another (default: default)').argument('<name>', 'policy name')))
    .option('--from <policy>', 'the policy to start from')
    .action(async (name: string, opts: FieldFlags & { from?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
      const created = await call<PolicyOut>(t, 'POST', '/v1/policies', { name, ...(opts.from ? { from: opts.from } : {}), ...fieldsOf(opts) });
      print(common, created, () => `created ${created.name} (version ${created.version})\n\n${record(readable(created.policy))}`);
    });
  clientOptions(policies.command('list').description('list policies (their current versions)')).action(async (_opts: Common, cmd: Command) => {
    const [t, common] = target(cmd);
    const page = await call<{ items: PolicyOut[] }>(t, 'GET', '/v1/policies');
    const rows = page.items.map((p) => ({ name: p.name, version: p.version, ...readable(p.policy) }));
    print(common, page, () => table(rows, ['name', 'version', 'keyRotationInterval', 'keyMaxAge', 'keyRotationGrace', 'deadline', 'accessTokenTtl']));
  });
  clientOptions(policies.command('show').description('show a policy and how many credentials each version still governs').argument('<name>', 'policy name')).action(
    async (name: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const p = await call<PolicyOut>(t, 'GET', `/v1/policies/${encodeURIComponent(name)}`);
      const versions = (p.versions ?? []).map((v) => ({ version: v.version, createdAt: v.createdAt, apiKeys: v.governs.apiKeys, clientSecrets: v.governs.clientSecrets }));
      print(common, p, () => `${p.name} (version ${p.version})\n\n${record(readable(p.policy))}\n\n${table(versions, ['version', 'createdAt', 'apiKeys', 'clientSecrets'])}`);
    },
  );
  clientOptions(withFieldFlags(policies.command('update').description('record a new version with the fields given').argument('<name>', 'policy name'))).action(
    async (name: string, opts: FieldFlags, cmd: Command) => {
      const [t, common] = target(cmd);
      const body = fieldsOf(opts);
      if (Object.keys(body).length === 0) throw new CommanderError(2, 'keyturn.invalidArgument', 'policies update: give at least one field to change (see --help)');
      const updated = await call<PolicyOut>(t, 'PATCH', `/v1/policies/${encodeURIComponent(name)}`, body);
      print(common, updated, () => `${updated.name} is at version ${updated.version}`);
    },
  );
  return policies;
}
