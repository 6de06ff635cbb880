import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { call, clientOptions as client, commandTarget, usageError, type ClientFlags as Common } from './client.js';
import { record, table } from './format.js';
import { printer, type Io } from './run.js';

type SinkView = Record<string, unknown> & { name: string; kind: string; settings?: Record<string, unknown> };
type Status = Record<string, unknown> & { name: string };

const STATUS_COLUMNS = ['name', 'kind', 'origin', 'state', 'position', 'lag', 'delivered', 'lastError'];

interface SettingFlags {
  sinkUrl?: string;
  host?: string;
  port?: string;
  file?: string;
  format?: string;
  types?: string;
  batchSize?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tokenFile?: string;
}

const integer = (flag: string) => (value: string) => {
  if (!/^\d{1,15}$/.test(value)) throw usageError(`${flag} is a whole number`);
  return value;
};

/** The settings the flags name, as the admin API takes them. */
function settingsOf(opts: SettingFlags, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (opts.sinkUrl !== undefined) out['url'] = opts.sinkUrl;
  if (opts.host !== undefined) out['host'] = opts.host;
  if (opts.port !== undefined) out['port'] = Number(opts.port);
  if (opts.file !== undefined) out['file'] = opts.file;
  if (opts.format !== undefined) out['format'] = opts.format;
  if (opts.types !== undefined) out['types'] = opts.types.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (opts.batchSize !== undefined) out['batchSize'] = Number(opts.batchSize);
  if (opts.tlsCa !== undefined || opts.tlsCert !== undefined || opts.tlsKey !== undefined) {
    out['tls'] = { ...(opts.tlsCa ? { ca: opts.tlsCa } : {}), ...(opts.tlsCert ? { cert: opts.tlsCert } : {}), ...(opts.tlsKey ? { key: opts.tlsKey } : {}) };
  }
  // A token never on the command line (other users see it in the process list): a file, or the environment.
  if (opts.tokenFile !== undefined) out['token'] = readFileSync(opts.tokenFile, 'utf8').trim();
  else if (env['KEYTURN_SINK_TOKEN']) out['token'] = env['KEYTURN_SINK_TOKEN'];
  return out;
}

function settingOptions(cmd: Command): Command {
  return cmd
    .option('--sink-url <url>', 'splunk_hec, webhook: where to send (--url names the keyturn server)')
    .option('--host <host>', 'syslog: collector host')
    .option('--port <port>', 'syslog: collector port', integer('--port'))
    .option('--file <name>', 'file: a file name, written under <dataDir>/audit')
    .option('--format <format>', 'syslog: rfc5424|cef; file: jsonl|cef|ocsf; splunk_hec: ocsf|jsonl')
    .option('--types <list>', 'only these event types, comma-separated (`key.*` for a noun)')
    .option('--batch-size <n>', 'events per delivery (1-1000)', integer('--batch-size'))
    .option('--tls-ca <path>', 'syslog, splunk_hec: CA file (PEM) the collector is checked against')
    .option('--tls-cert <path>', 'syslog, splunk_hec: client certificate file (PEM)')
    .option('--tls-key <path>', 'syslog, splunk_hec: client key file (PEM); only its path is stored')
    .option('--token-file <path>', 'splunk_hec: file holding the HEC token (or env KEYTURN_SINK_TOKEN); stored sealed, never shown');
}

/**
 * `keyturn audit sinks …`: audit sinks added at run time through the admin API, beside the
 * configuration file's — add (a webhook sink's secret is printed once), list (every sink's state),
 * show, update, remove.
 *
 * @example
 * ```sh
 * keyturn audit sinks add webhook soc --sink-url https://soc.example.com/keyturn --from now
 * keyturn audit sinks add splunk_hec splunk --sink-url https://splunk.example.com:8088 --token-file hec.token
 * keyturn audit sinks list
 * keyturn audit sinks remove soc
 * ```
 */
/** `--from`: `start`, `now` or a positive sequence number (anything else is a usage error, sent nowhere). */
function fromFlag(value: string): string {
  if (value !== 'start' && value !== 'now' && !/^[1-9]\d{0,15}$/.test(value)) throw usageError('--from is start, now or a sequence number');
  return value;
}

/** `--from` as the API takes it: a number for a sequence number. */
function fromBody(value: string | undefined): { from?: string | number } {
  return value === undefined ? {} : { from: /^\d+$/.test(value) ? Number(value) : value };
}

export function addAuditSinkCommands(audit: Command, io: Io): void {
  const print = printer(io);
  const target = (cmd: Command) => commandTarget(cmd, io.env);
  const sinks = audit.command('sinks').description('audit sinks: the configuration file\'s and those added through the admin API');
  settingOptions(client(sinks.command('add').description('add a sink (syslog, file, splunk_hec, webhook); a webhook sink\'s signing secret is printed once')))
    .argument('<kind>', 'syslog, file, splunk_hec or webhook')
    .argument('<name>', 'unique among all sinks: [a-z][a-z0-9_-]*')
    .option('--from <where>', 'where its cursor starts: start (the first event, default), now (new events only) or a sequence number', fromFlag)
    .action(async (kind: string, name: string, opts: Common & SettingFlags & { from?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
      const from = fromBody(opts.from);
      const created = await call<SinkView & { secret?: string }>(t, 'POST', '/v1/audit/sinks', { kind, name, ...from, ...settingsOf(opts, io.env) });
      const { secret, ...view } = created;
      print(common, created, () =>
        secret === undefined
          ? `added ${created.name}\n\n${record(view)}`
          : `${secret}\n\n${record(view)}\n\nStore the secret now: keyturn signs every batch with it (webhook-signature) and cannot show it again.`,
      );
    });
  client(sinks.command('list').description('every sink and its state: position, lag, up or down (never a secret)')).action(async (_opts: Common, cmd: Command) => {
    const [t, common] = target(cmd);
    const page = await call<{ items: Status[] }>(t, 'GET', '/v1/audit/sinks');
    print(common, page, () => (page.items.length ? table(page.items, STATUS_COLUMNS) : 'no audit sinks'));
  });
  client(sinks.command('show').description('one sink: its settings (never its secret) and state').argument('<name>', 'sink name')).action(async (name: string, _opts: Common, cmd: Command) => {
    const [t, common] = target(cmd);
    const sink = await call<SinkView>(t, 'GET', `/v1/audit/sinks/${encodeURIComponent(name)}`);
    print(common, sink, () => record(sink));
  });
  settingOptions(client(sinks.command('update').description('change a sink added through the API (its cursor stays unless --from moves it)').argument('<name>', 'sink name')))
    .option('--rotate-secret', 'webhook: a new signing secret, printed once (the old one stops signing)')
    .option('--from <where>', 'move its cursor: start (deliver the whole log again), now (skip to new events) or the sequence number to deliver next', fromFlag)
    .action(async (name: string, opts: Common & SettingFlags & { rotateSecret?: boolean; from?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
      const body = { ...settingsOf(opts, io.env), ...(opts.rotateSecret ? { rotateSecret: true } : {}), ...fromBody(opts.from) };
      const updated = await call<SinkView & { secret?: string }>(t, 'PATCH', `/v1/audit/sinks/${encodeURIComponent(name)}`, body);
      const { secret, ...view } = updated;
      print(common, updated, () => (secret === undefined ? record(view) : `${secret}\n\n${record(view)}\n\nStore the new secret now: it is not shown again.`));
    });
  client(sinks.command('remove').description('remove a sink added through the API, with its cursor').argument('<name>', 'sink name')).action(async (name: string, _opts: Common, cmd: Command) => {
    const [t, common] = target(cmd);
    const removed = await call<SinkView>(t, 'DELETE', `/v1/audit/sinks/${encodeURIComponent(name)}`);
    print(common, removed, () => `removed ${removed.name}`);
  });
}
