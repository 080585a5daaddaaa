// pcfctl - the control plane's command line: rules (flows), stats and the change stream, over
// REST (default) or gRPC. Run through bin/pcfctl. Exit codes: 0 ok, 1 the server refused
// (each field error on stderr as "pcfctl: <field>: <message>"), 2 usage, 3 unreachable.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT, usageError, type ActionType, type ClientSecurity, type EventFilter, type Flow, type FlowFilter, type PacketEventConfig, type PcfClient, type Watch } from './client.js';
import { EVENT_HEADER, eventConfigText, eventLine, flowDetail, flowsTable, pccDetail, pccTable, renderAction, renderKey, renderRule, statsText, WATCH_HEADER, watchLine } from './format.js';
import { RestClient } from './rest.js';
import { table } from './table.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Globals {
  http: string;
  grpc: string;
  transport: 'rest' | 'grpc';
  json?: boolean;
  timeout: number;
  token?: string;
  tokenFile?: string;
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
}

/** The token (from --token or the first line of --token-file) and the TLS files, read once. */
function clientSecurity(g: Globals): ClientSecurity {
  const read = (opt: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw usageError(`${opt} ${file}: ${(err as Error).message}`);
    }
  };
  let token = g.token ?? null;
  if (!token && g.tokenFile) token = read('--token-file', g.tokenFile).toString('utf8').split('\n')[0].trim() || null;
  if (!!g.cert !== !!g.key) throw usageError('--cert and --key go together');
  return {
    token,
    tls: !!(g.tls || g.ca || g.cert || /^https:/i.test(g.http)),
    ca: g.ca ? read('--ca', g.ca) : null,
    cert: g.cert ? read('--cert', g.cert) : null,
    key: g.key ? read('--key', g.key) : null,
  };
}

// ---- option parsing -------------------------------------------------------------------------

/** Integer option in [min, max]: the wire type's bounds only; the server checks the meaning. */
function intArg(min: number, max: number) {
  return (v: string): number => {
    if (!/^[+-]?\d+$/.test(v.trim())) throw new InvalidArgumentError('not an integer.');
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`not in ${min}..${max}.`);
    return n;
  };
}
const U32 = intArg(0, 0xffffffff);
const S32 = intArg(-0x80000000, 0x7fffffff);

/** "tcp", "UDP", "17" -> "tcp" | "udp" | 17; REST takes either, the gRPC client maps names. */
/** A key's protocol (the list filters name a key's fields). */
function protoArg(v: string): string | number {
  if (/^\d+$/.test(v)) return Number(v);
  const name = v.toLowerCase();
  if (!['tcp', 'udp', 'icmp'].includes(name)) throw new InvalidArgumentError('not tcp, udp, icmp or a protocol number.');
  return name;
}

/** A rule's protocol: a match also names the other protocols with ports, and ICMPv6. */
function matchProtoArg(v: string): string | number {
  if (/^\d+$/.test(v)) return Number(v);
  const name = v.toLowerCase();
  if (!['tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'udplite', 'dccp'].includes(name)) throw new InvalidArgumentError('not tcp, udp, icmp, icmpv6, sctp, udplite, dccp or a protocol number.');
  return name;
}

function actionArg(v: string): ActionType {
  const t = v.toUpperCase();
  if (!['PASS', 'DROP', 'REDIRECT'].includes(t)) throw new InvalidArgumentError('not PASS, DROP or REDIRECT.');
  return t as ActionType;
}

// ---- output ---------------------------------------------------------------------------------

const out = (s: string): void => void process.stdout.write(s);
const json = (doc: unknown): void => out(JSON.stringify(doc, null, 2) + '\n');
const note = (s: string) => process.stderr.write(`pcfctl: ${s}\n`);

function globals(cmd: Command): Globals {
  return cmd.optsWithGlobals() as Globals;
}

async function connect(g: Globals): Promise<PcfClient> {
  if (g.transport === 'grpc') {
    const { GrpcClient } = await import('./grpc.js');
    return new GrpcClient(g.grpc, g.timeout, clientSecurity(g));
  }
  return new RestClient(g.http, g.timeout, clientSecurity(g));
}

/** Runs fn with a client of the chosen transport and closes it after. */
async function withClient(cmd: Command, fn: (c: PcfClient, g: Globals) => Promise<void>): Promise<void> {
  const g = globals(cmd);
  const c = await connect(g);
  try {
    await fn(c, g);
  } finally {
    c.close();
  }
}

// ---- flows add --------------------------------------------------------------------------------

interface AddOptions {
  file?: string;
  srcIp?: string;
  dstIp?: string;
  srcPort?: number;
  dstPort?: number;
  proto?: string | number;
  src?: string;
  dst?: string;
  srcPorts?: string;
  dstPorts?: string;
  precedence?: number;
  action?: ActionType;
  ttlDelta?: number;
  snatIp?: string;
  snatPort?: number;
  dnatIp?: string;
  dnatPort?: number;
  mark?: number;
  queueId?: number;
  mirror?: boolean;
}

const RULE_OPTIONS: [keyof AddOptions, string][] = [
  ['srcIp', '--src-ip'], ['dstIp', '--dst-ip'], ['srcPort', '--src-port'], ['dstPort', '--dst-port'], ['proto', '--proto'],
  ['action', '--action'], ['ttlDelta', '--ttl-delta'], ['snatIp', '--snat-ip'], ['snatPort', '--snat-port'],
  ['dnatIp', '--dnat-ip'], ['dnatPort', '--dnat-port'], ['mark', '--mark'], ['queueId', '--queue-id'],
  ['src', '--src'], ['dst', '--dst'], ['srcPorts', '--src-ports'], ['dstPorts', '--dst-ports'], ['precedence', '--precedence'],
];

/** A port option as the API takes it: "80" as a number, "2000-2999" as written. */
const portsArg = (v: string | undefined) => (v === undefined ? undefined : /^\d+$/.test(v) ? Number(v) : v);

/** The FlowSpec of openapi.yaml from the options; unset options are left out. */
function specFromOptions(o: AddOptions): unknown {
  const action = actionFromOptions(o);
  // A match (prefixes, ranges, any protocol) when any of its options is given.
  if ([o.src, o.dst, o.srcPorts, o.dstPorts].some((v) => v !== undefined)) {
    const keyOpts = (['srcIp', 'dstIp', 'srcPort', 'dstPort'] as const).filter((k) => o[k] !== undefined);
    if (keyOpts.length) throw usageError(`flows add: ${keyOpts.map((k) => RULE_OPTIONS.find(([n]) => n === k)![1]).join(', ')} name an exact key; with --src/--dst/--src-ports/--dst-ports give a match instead`);
    if (o.action === undefined) throw usageError('flows add: missing --action');
    const match = Object.fromEntries(Object.entries({ src: o.src, dst: o.dst, src_ports: portsArg(o.srcPorts), dst_ports: portsArg(o.dstPorts), proto: o.proto })
      .filter(([, v]) => v !== undefined));
    return { match, ...(o.precedence !== undefined ? { precedence: o.precedence } : {}), action };
  }
  const missing: (keyof AddOptions)[] = (['srcIp', 'dstIp', 'proto', 'action'] as const).filter((k) => o[k] === undefined);
  const icmp = o.proto === 'icmp' || o.proto === 1;
  if (!icmp) missing.push(...(['srcPort', 'dstPort'] as const).filter((k) => o[k] === undefined));
  if (missing.length) {
    const names = missing.map((k) => RULE_OPTIONS.find(([n]) => n === k)![1]);
    throw usageError(`flows add: missing ${names.join(', ')}${icmp ? '' : ' (ports are required except for icmp)'}; or --file rules.json`);
  }
  return {
    key: { src_ip: o.srcIp, dst_ip: o.dstIp, src_port: o.srcPort ?? 0, dst_port: o.dstPort ?? 0, proto: o.proto },
    ...(o.precedence !== undefined ? { precedence: o.precedence } : {}),
    action,
  };
}

function actionFromOptions(o: AddOptions): Record<string, unknown> {
  const nat = Object.fromEntries(
    ([['snat_ip', o.snatIp], ['snat_port', o.snatPort], ['dnat_ip', o.dnatIp], ['dnat_port', o.dnatPort]] as const).filter(([, v]) => v !== undefined),
  );
  const action: Record<string, unknown> = { type: o.action };
  if (o.ttlDelta !== undefined) action.ttl_delta = o.ttlDelta;
  if (Object.keys(nat).length) action.nat = nat;
  if (o.mark !== undefined) action.mark = o.mark;
  if (o.queueId !== undefined) action.queue_id = o.queueId;
  if (o.mirror) action.mirror = true;
  return action;
}

/** A JSON array of FlowSpec (or {"flows": [...]}, as BatchUpsertFlows takes it); "-" is stdin. */
function readRulesFile(file: string): unknown[] {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw usageError(`--file ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw usageError(`--file ${file}: not JSON: ${(err as Error).message}`);
  }
  const rules = Array.isArray(doc) ? doc : (doc as { flows?: unknown })?.flows;
  if (!Array.isArray(rules)) throw usageError(`--file ${file}: expected a JSON array of {key, action} rules`);
  if (rules.length === 0) throw usageError(`--file ${file}: holds no rules`);
  return rules;
}

async function flowsAdd(o: AddOptions, cmd: Command): Promise<void> {
  if (o.file !== undefined) {
    const given = RULE_OPTIONS.filter(([k]) => o[k] !== undefined).map(([, n]) => n);
    if (given.length) throw usageError(`flows add: --file cannot be combined with ${given.join(', ')}`);
    const specs = readRulesFile(o.file);
    await withClient(cmd, async (c, g) => {
      const r = await c.upsertMany(specs);
      if (g.json) return json(r.raw);
      out(`created ${r.created}, updated ${r.updated}${r.revision ? ` (revision ${r.revision})` : ''}\n`);
      const SHOWN = 100;
      const rows = r.ids.slice(0, SHOWN).map((id, i) => {
        const s = specs[i] as { key?: Flow['key']; match?: Flow['match']; precedence?: number; action: Flow['action'] };
        return [String(id), s.key ? renderKey(s.key) : renderRule({ match: s.match ?? {}, precedence: s.precedence ?? null }), renderAction(s.action)];
      });
      out(table([{ header: 'ID', align: 'right' }, { header: 'KEY' }, { header: 'ACTION' }], rows));
      if (r.ids.length > SHOWN) out(`... and ${r.ids.length - SHOWN} more (--json lists every id)\n`);
    });
    return;
  }
  const spec = specFromOptions(o);
  await withClient(cmd, async (c, g) => {
    const r = await c.upsert(spec);
    if (g.json) return json(r.raw);
    out(`${r.created ? 'created' : 'updated'} flow ${r.flow.id}  ${renderRule(r.flow)}  ${renderAction(r.flow.action)}\n`);
  });
}

// ---- pcc put --------------------------------------------------------------------------------

interface PccOptions {
  file?: string;
  flow?: string[];
  direction: string;
  precedence?: number;
  ueIp?: string;
  action?: ActionType;
  ttlDelta?: number;
  mark?: number;
  mirror?: boolean;
}

async function pccPut(id: string, o: PccOptions, cmd: Command): Promise<void> {
  let spec: unknown;
  if (o.file !== undefined) {
    if (o.flow || o.precedence !== undefined || o.action) throw usageError('pcc put: --file cannot be combined with --flow, --precedence or --action');
    const text = o.file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(o.file, 'utf8');
    try {
      spec = JSON.parse(text);
    } catch (err) {
      throw usageError(`--file ${o.file}: not JSON: ${(err as Error).message}`);
    }
  } else {
    const missing = [['--flow', o.flow], ['--precedence', o.precedence], ['--action', o.action]].filter(([, v]) => v === undefined).map(([n]) => n);
    if (missing.length) throw usageError(`pcc put: missing ${missing.join(', ')}; or --file pcc.json`);
    spec = {
      precedence: o.precedence,
      flow_infos: o.flow!.map((f) => ({ flow_description: f, flow_direction: o.direction.toUpperCase() })),
      action: actionFromOptions(o as AddOptions),
      ...(o.ueIp ? { ue_ip: o.ueIp } : {}),
    };
  }
  await withClient(cmd, async (c, g) => {
    const r = await c.upsertPcc(id, spec);
    if (g.json) return json(r.raw);
    out(`${r.created ? 'created' : 'replaced'} PCC rule ${id}\n`);
    out(pccDetail(r.rule));
  });
}

// ---- flows list / get / del -----------------------------------------------------------------

interface ListOptions extends FlowFilter {
  srcIp?: string;
  dstIp?: string;
  srcPort?: number;
  dstPort?: number;
  limit?: number;
  cursor?: number;
  all?: boolean;
}

async function flowsList(o: ListOptions, cmd: Command): Promise<void> {
  const filter: FlowFilter = Object.fromEntries(
    Object.entries({ src_ip: o.srcIp, dst_ip: o.dstIp, src_port: o.srcPort, dst_port: o.dstPort, proto: o.proto, type: o.type })
      .filter(([, v]) => v !== undefined),
  );
  await withClient(cmd, async (c, g) => {
    let page = await c.list(filter, o.limit, o.cursor);
    const flows = [...page.flows];
    const raws = [...(((page.raw as { flows?: unknown[] }).flows) ?? [])];
    while (o.all && page.next_cursor !== null) {
      page = await c.list(filter, o.limit, page.next_cursor);
      flows.push(...page.flows);
      raws.push(...(((page.raw as { flows?: unknown[] }).flows) ?? []));
    }
    // --all: one document as the last page would be if it held every flow.
    if (g.json) return json(o.all ? { ...(page.raw as object), flows: raws } : page.raw);
    out(flows.length ? flowsTable(flows) : 'no flows\n');
    if (page.next_cursor !== null) note(`more flows after id ${page.next_cursor}: add --cursor ${page.next_cursor}, or --all`);
  });
}

function idArg(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('not a flow id (an integer >= 1).');
  return Number(v);
}

async function flowsGet(id: number, _o: unknown, cmd: Command): Promise<void> {
  await withClient(cmd, async (c, g) => {
    const r = await c.get(id);
    if (g.json) return json(r.raw);
    out(flowDetail(r.flow));
  });
}

/** One id: DELETE /flows/{id}; several: one all-or-nothing batch. */
async function flowsDel(ids: number[], _o: unknown, cmd: Command): Promise<void> {
  await withClient(cmd, async (c, g) => {
    if (ids.length === 1) {
      const r = await c.delete(ids[0]);
      if (g.json) return json(r.raw);
      return out(`deleted flow ${ids[0]}\n`);
    }
    const r = await c.deleteMany(ids);
    if (g.json) return json(r.raw);
    out(`deleted ${r.deleted} flows (revision ${r.revision})\n`);
  });
}

// ---- stats, watch ---------------------------------------------------------------------------

async function stats(o: { rules?: boolean }, cmd: Command): Promise<void> {
  await withClient(cmd, async (c, g) => {
    const r = await c.stats(Boolean(o.rules));
    if (g.json) return json(r.raw);
    out(statsText(r.stats));
  });
}

async function watch(o: { from?: number }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  if (g.transport === 'rest' && cmd.parent?.getOptionValueSource('transport') === 'cli')
    throw usageError('watch is gRPC only (WatchFlows): leave out --transport rest; it dials --grpc');
  const { GrpcClient } = await import('./grpc.js');
  const c = new GrpcClient(g.grpc, g.timeout, clientSecurity(g));
  if (!g.json) out(WATCH_HEADER + '\n');
  await untilEnded(c.watch(o.from, (e, raw) => out(g.json ? JSON.stringify(raw) + '\n' : watchLine(e) + '\n')), c);
}

/** Waits for a stream to end; Ctrl-C or SIGTERM cancels it. Closes the client. */
async function untilEnded(w: Watch, c: { close(): void }): Promise<void> {
  const stop = () => w.cancel();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await w.done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    c.close();
  }
}

/** Streams packet events (GET /events or WatchPacketEvents) until Ctrl-C or `count` of them. */
async function observe(o: { rule?: number; action?: ActionType; address?: string; count?: number }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const c = await connect(g);
  const filter: EventFilter = { rule_id: o.rule, action: o.action, address: o.address };
  if (!g.json) out(EVENT_HEADER + '\n');
  let seen = 0;
  const w = c.observe(filter, (e, raw) => {
    if (o.count && seen >= o.count) return;
    seen++;
    out(g.json ? JSON.stringify(raw) + '\n' : eventLine(e) + '\n');
    if (o.count && seen >= o.count) w.cancel();
  }, (n) => process.stderr.write(`pcfctl: ${n} events lost: this client read too slowly\n`));
  await untilEnded(w, c);
}

interface EventsOptions { enable?: boolean; pass?: number; drop?: number; redirect?: number; rate?: number; burst?: number }

/** Shows the packet event setting; with options, changes those fields of it first. */
async function events(o: EventsOptions, cmd: Command): Promise<void> {
  await withClient(cmd, async (c, g) => {
    const cur = (await c.eventConfig()).config;
    const changed = Object.values(o).some((v) => v !== undefined);
    const r = changed
      ? await c.setEventConfig({
        enabled: o.enable ?? cur.enabled,
        sample: { pass: o.pass ?? cur.sample.pass, drop: o.drop ?? cur.sample.drop, redirect: o.redirect ?? cur.sample.redirect },
        rate_per_cpu: o.rate ?? cur.rate_per_cpu,
        burst: o.burst ?? cur.burst,
      } satisfies PacketEventConfig)
      : await c.eventConfig();
    if (g.json) return json(r.raw);
    out(eventConfigText(r.config));
  });
}

/** build/pcf-trace of this checkout, else pcf-trace on PATH (an installed node); PCF_TRACE_BIN overrides. */
function traceBinary(): string {
  if (process.env.PCF_TRACE_BIN) return process.env.PCF_TRACE_BIN;
  const built = path.join(ROOT, 'build/pcf-trace');
  return fs.existsSync(built) ? built : 'pcf-trace';
}

/** Runs pcf-trace on this node (it attaches to the worker's USDT probes: root); its exit code is ours. */
async function trace(o: { pid?: number; intervalMs?: number; count?: number; pinDir?: string; pin: boolean }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const args = [
    ...(o.pid ? ['--pid', String(o.pid)] : []),
    ...(o.intervalMs ? ['--interval-ms', String(o.intervalMs)] : []),
    ...(o.count ? ['--count', String(o.count)] : []),
    ...(o.pinDir ? ['--pin-dir', o.pinDir] : []),
    ...(o.pin ? [] : ['--no-pin']),
    ...(g.json ? ['--json'] : []),
  ];
  const { spawn } = await import('node:child_process');
  const bin = traceBinary();
  const child = spawn(bin, args, { stdio: 'inherit' });
  // Ctrl-C reaches the tool too (one process group); a SIGTERM to pcfctl is passed on.
  const pass = (sig: NodeJS.Signals) => () => child.kill(sig);
  const onInt = pass('SIGINT');
  const onTerm = pass('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'ENOENT' ? new CliError([`${bin} not found: build it (make build) or set PCF_TRACE_BIN`], EXIT.USAGE) : err));
      child.once('exit', (c, sig) => resolve(c ?? (sig === 'SIGINT' || sig === 'SIGTERM' ? 0 : 1)));
    });
    if (code !== 0) throw new CliError([], code);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

// ---- the program ----------------------------------------------------------------------------

export function buildProgram(): Command {
  const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const program = new Command('pcfctl')
    .description('Manage the pcf-afxdp control plane: rules (flows), stats and the change stream.')
    .version(version)
    .addOption(new Option('--http <url>', 'REST address, http:// optional').env('PCF_HTTP').default('127.0.0.1:8080'))
    .addOption(new Option('--grpc <host:port>', 'gRPC address').env('PCF_GRPC').default('127.0.0.1:50051'))
    .addOption(new Option('--transport <name>', 'rest or grpc (watch is always gRPC)').choices(['rest', 'grpc']).default('rest'))
    .option('--json', "machine output: the API's JSON, one document (watch: one object per line)")
    .addOption(new Option('--timeout <ms>', 'how long to wait for each answer').argParser(intArg(1, 3_600_000)).default(10_000))
    .addOption(new Option('--token <token>', 'bearer token (the control plane has PCF_AUTH_TOKEN_FILE)').env('PCF_TOKEN'))
    .addOption(new Option('--token-file <file>', 'the token on the first line of a file').env('PCF_TOKEN_FILE'))
    .addOption(new Option('--tls', 'HTTPS and gRPC over TLS (https:// in --http, --ca or --cert imply it)'))
    .addOption(new Option('--ca <pem>', "CA certificate that signed the server's (else the system's)").env('PCF_TLS_CA'))
    .addOption(new Option('--cert <pem>', 'client certificate (the control plane has PCF_TLS_CLIENT_CA)').env('PCF_TLS_CLIENT_CERT'))
    .addOption(new Option('--key <pem>', "the client certificate's key").env('PCF_TLS_CLIENT_KEY'))
    // Settings below are inherited by every command added after them.
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`pcfctl: ${str.replace(/^error: /, '')}`) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', `
Exit codes: 0 ok, 1 refused by the server (field errors on stderr), 2 usage, 3 server unreachable.
Environment: PCF_HTTP, PCF_GRPC (the addresses the server listens on).`);

  const flows = program.command('flows').description('rules: add, list, get, del');

  flows.command('add')
    .description('create a rule, or update the rule with the same 5-tuple (id kept)')
    .option('--file <rules.json>', 'a JSON array of {key, action} rules ("-": stdin); gRPC: one all-or-nothing batch, REST: one by one')
    .option('--src-ip <ip>', 'source IPv4 address')
    .option('--dst-ip <ip>', 'destination IPv4 address')
    .option('--src-port <n>', 'source port (0 for icmp)', U32)
    .option('--dst-port <n>', 'destination port (0 for icmp)', U32)
    .option('--proto <p>', 'tcp, udp, icmp (icmpv6, sctp, udplite, dccp with a match) or the IANA number', matchProtoArg)
    .option('--src <prefix>', 'match: source prefix, IPv4 or IPv6 (198.18.0.0/16, 2001:2::/48); absent = any')
    .option('--dst <prefix>', 'match: destination prefix; absent = any')
    .option('--src-ports <p>', 'match: source port or range lo-hi (needs --proto with ports)')
    .option('--dst-ports <p>', 'match: destination port or range lo-hi')
    .option('--precedence <n>', 'lower wins (3GPP); required for a match, optional for an exact key', U32)
    .option('--action <type>', 'PASS, DROP or REDIRECT', actionArg)
    .option('--ttl-delta <n>', 'REDIRECT: added to the TTL by the worker', S32)
    .option('--snat-ip <ip>', 'REDIRECT: new source address')
    .option('--snat-port <n>', 'REDIRECT: new source port', U32)
    .option('--dnat-ip <ip>', 'REDIRECT: new destination address')
    .option('--dnat-port <n>', 'REDIRECT: new destination port', U32)
    .option('--mark <n>', 'PASS/REDIRECT: skb mark on the kernel path', U32)
    .option('--queue-id <n>', 'REDIRECT: redirect only when the flow arrives on this RX queue', U32)
    .option('--mirror', 'REDIRECT: the worker copies the rule\'s packets to its mirror')
    .action(flowsAdd);

  flows.command('list')
    .description('list rules in id order (one page unless --all)')
    .option('--limit <n>', 'rules per page (1..1000, server default 100)', U32)
    .option('--cursor <id>', 'start after this id (next_cursor of the previous page)', U32)
    .option('--all', 'follow next_cursor to the last page')
    .option('--src-ip <ip>', 'only this source address')
    .option('--dst-ip <ip>', 'only this destination address')
    .option('--src-port <n>', 'only this source port', U32)
    .option('--dst-port <n>', 'only this destination port', U32)
    .option('--proto <p>', 'only this protocol', protoArg)
    .option('--type <type>', 'only this action: PASS, DROP or REDIRECT', actionArg)
    .action(flowsList);

  flows.command('get').description('one rule, with its XDP counters').argument('<id>', 'flow id', idArg).action(flowsGet);
  flows.command('del').alias('delete').description('remove rules (several ids: all or none)')
    .argument('<id...>', 'flow ids', (v: string, prev: number[] = []) => [...prev, idArg(v)]).action(flowsDel);

  const pcc = program.command('pcc').description('PCC rules (TS 29.512): filters as 3GPP flow descriptions, applied as one unit');
  pcc.command('put')
    .description('create or replace a PCC rule; its filters\' flows change in one step')
    .argument('<id>', 'the PCC rule id')
    .option('--file <pcc.json>', 'the PccRuleSpec of openapi.yaml as JSON ("-": stdin) instead of the options')
    .option('--flow <description>', 'a filter: "permit out 17 from 198.18.1.0/24 to assigned 5000" (repeat for more)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--direction <d>', 'of every --flow: DOWNLINK, UPLINK, BIDIRECTIONAL or UNSPECIFIED (both ways)', 'UNSPECIFIED')
    .option('--precedence <n>', 'lower wins', U32)
    .option('--ue-ip <ip>', 'the UE address "assigned" stands for')
    .option('--action <type>', 'PASS, DROP or REDIRECT', actionArg)
    .option('--ttl-delta <n>', 'REDIRECT: added to the TTL by the worker', S32)
    .option('--mark <n>', 'PASS/REDIRECT: skb mark on the kernel path', U32)
    .option('--mirror', 'REDIRECT: the worker copies the rule\'s packets to its mirror')
    .action(pccPut);
  pcc.command('get').description('one PCC rule, each filter with its flows and packets').argument('<id>').action(async (id: string, _o, cmd: Command) => {
    await withClient(cmd, async (c, g) => {
      const r = await c.getPcc(id);
      if (g.json) return json(r.raw);
      out(pccDetail(r.rule));
    });
  });
  pcc.command('list').description('PCC rules in id order').option('--limit <n>', 'per page', U32).option('--cursor <id>', 'after this id')
    .action(async (o: { limit?: number; cursor?: string }, cmd: Command) => {
      await withClient(cmd, async (c, g) => {
        const r = await c.listPcc(o.limit, o.cursor);
        if (g.json) return json(r.raw);
        out(pccTable(r.rules));
        if (r.next_cursor) out(`more: --cursor ${r.next_cursor}\n`);
      });
    });
  pcc.command('del').alias('delete').description('remove a PCC rule and its flows').argument('<id>').action(async (id: string, _o, cmd: Command) => {
    await withClient(cmd, async (c, g) => {
      const r = await c.deletePcc(id);
      if (g.json) return json(r.raw);
      out(`deleted PCC rule ${id}\n`);
    });
  });

  program.command('stats')
    .description('datapath state, nonzero XDP counters and the workers; --rules adds per-rule counters')
    .option('--rules', 'also every rule that counted a packet (reads all counter slots: grows with the rules)')
    .action(stats);

  program.command('watch')
    .description('stream rule changes (gRPC WatchFlows) until Ctrl-C')
    .option('--from <rev>', 'first replay the changes after this revision (0: every change the log still holds); without it, changes from now on', U32)
    .action(watch);

  program.command('observe')
    .description("packet events live, as XDP handled them (every DROP by default; pcfctl events): a table, or JSON lines with --json")
    .option('--rule <id>', 'only the packets of this rule', idArg)
    .option('--action <type>', 'only the packets XDP passed, dropped or redirected: PASS, DROP or REDIRECT', actionArg)
    .option('--address <ip>', 'only packets from or to this address or prefix (198.18.0.1, 2001:2::/48)')
    .option('--count <n>', 'stop after n events (default: at Ctrl-C)', intArg(1, 100_000_000))
    .action(observe);

  program.command('events')
    .description('which packets XDP emits events for: shows the setting; the options change it (kept by the control plane)')
    .option('--enable', 'events on (they are emitted while an observer is open)')
    .option('--disable', 'no events at all')
    .option('--pass <n>', '1 in n of the packets XDP passes (0: none)', U32)
    .option('--drop <n>', '1 in n of the packets XDP drops (1: every one, the default; 0: none)', U32)
    .option('--redirect <n>', '1 in n of the packets XDP hands to the worker (0: none)', U32)
    .option('--rate <n>', 'events per second per CPU at most (1..10,000,000)', intArg(1, 10_000_000))
    .option('--burst <n>', 'events at once per CPU at most (1..1,000,000)', intArg(1, 1_000_000))
    .action((o: EventsOptions & { disable?: boolean }, cmd: Command) => {
      if (o.enable && o.disable) throw usageError('--enable and --disable: choose one');
      const { disable, ...rest } = o;
      return events({ ...rest, enable: disable ? false : o.enable }, cmd);
    });

  program.command('trace')
    .description("the worker's bursts every second, by port queue: bursts/s and a histogram of packets per burst (pcf-trace on this node, root; the same figures in /metrics while it runs)")
    .option('--pid <pid>', 'the pcf-worker to trace (default: the only one running)', intArg(1, 0x7fffffff))
    .option('--interval-ms <ms>', 'how often to print (100..60000, default 1000)', intArg(100, 60_000))
    .option('--count <n>', 'stop after n intervals (default: at Ctrl-C)', intArg(1, 100_000_000))
    .addOption(new Option('--pin-dir <dir>', 'the pin dir the control plane reads').env('PCF_PIN_DIR'))
    .option('--no-pin', 'do not publish the figures to the control plane (/metrics)')
    .action(trace);

  return program;
}

export async function main(argv: string[]): Promise<number> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0); // `pcfctl ... | head`
    throw err;
  });
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT.USAGE; // message already printed
    if (err instanceof CliError) {
      for (const l of err.lines) process.stderr.write(`pcfctl: ${l}\n`);
      return err.exitCode;
    }
    process.stderr.write(`pcfctl: ${(err as Error)?.stack ?? err}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
