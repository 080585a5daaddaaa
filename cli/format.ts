// format.ts - how pcfctl shows rules, stats and watch events to people. --json bypasses all
// of this and prints the API's own JSON.
import { protocolName } from '../api/protocols.js';
import type { Flow, FlowAction, FlowEvent, FlowKey, PacketEvent, PacketEventConfig, PccRule, Stats } from './client.js';
import { count, keyValues, table } from './table.js';

/** "198.18.0.1:1234 -> 198.18.1.1:80 udp"; ICMP has no ports: "198.18.0.1 -> 198.18.1.1 icmp". */
export function renderKey(k: FlowKey): string {
  const noPorts = k.proto === 1 || k.proto === 'icmp';
  const end = (ip: string, port: number) => (noPorts ? ip : `${ip}:${port}`);
  return `${end(k.src_ip, k.src_port)} -> ${end(k.dst_ip, k.dst_port)} ${protocolName(k.proto)}`;
}

/** A rule's match: its key when it is one exact 5-tuple, else "198.18.0.0/16 -> any:2000-2999 udp". */
export function renderRule(f: Pick<Flow, 'key' | 'match' | 'precedence'>): string {
  const prec = f.precedence !== null && f.precedence !== undefined ? ` prec ${f.precedence}` : '';
  if (f.key) return renderKey(f.key) + prec;
  const m = f.match ?? {};
  const end = (p: string | undefined, ports: number | string | undefined) => {
    const addr = p ?? 'any';
    return ports === undefined ? addr : `${addr.includes(':') ? `[${addr}]` : addr}:${ports}`;
  };
  const proto = m.proto === undefined ? 'any' : protocolName(m.proto);
  return `${end(m.src, m.src_ports)} -> ${end(m.dst, m.dst_ports)} ${proto}${prec}`;
}

/** "REDIRECT ttl-5 snat=198.18.0.9 dnat=198.18.1.2:8080 mark=273 q0" (only what is set). */
export function renderAction(a: FlowAction): string {
  const parts: string[] = [a.type];
  if (a.ttl_delta) parts.push(`ttl${a.ttl_delta > 0 ? '+' : ''}${a.ttl_delta}`);
  const nat = a.nat;
  for (const side of ['snat', 'dnat'] as const) {
    const ip = nat?.[`${side}_ip`];
    const port = nat?.[`${side}_port`];
    if (ip || port) parts.push(`${side}=${ip ?? ''}${port ? `:${port}` : ''}`);
  }
  if (a.mark !== null && a.mark !== undefined) parts.push(`mark=${a.mark}`);
  if (a.queue_id !== null && a.queue_id !== undefined) parts.push(`q${a.queue_id}`);
  if (a.mirror) parts.push('mirror');
  return parts.join(' ');
}

export function flowsTable(flows: Flow[]): string {
  return table(
    [{ header: 'ID', align: 'right' }, { header: 'KEY' }, { header: 'ACTION' }, { header: 'REV', align: 'right' }, { header: 'UPDATED' }],
    flows.map((f) => [String(f.id), renderRule(f), renderAction(f.action), String(f.revision), f.updated_at]),
  );
}

export function flowDetail(f: Flow): string {
  return keyValues([
    ['id', String(f.id)],
    [f.key ? 'key' : 'match', renderRule(f)],
    ['action', renderAction(f.action)],
    ['revision', String(f.revision)],
    ['created', f.created_at],
    ['updated', f.updated_at],
    ['counters', f.counters ? `${count(f.counters.packets)} packets, ${count(f.counters.bytes)} bytes` : '- (datapath absent)'],
  ]);
}

const packets = (c: { packets: number } | undefined) => (c ? count(c.packets) : '-');

export function pccTable(rules: PccRule[]): string {
  return table(
    [{ header: 'PCC RULE' }, { header: 'PREC', align: 'right' }, { header: 'FILTERS', align: 'right' }, { header: 'FLOWS', align: 'right' }, { header: 'ACTION' }, { header: 'PACKETS', align: 'right' }],
    rules.map((r) => [r.pcc_rule_id, String(r.precedence), String(r.flow_infos.length), String(r.flow_infos.reduce((n, f) => n + f.flows.length, 0)), renderAction(r.action), packets(r.counters)]),
  );
}

/** The PCC rule, then each filter with the flows it became and their packets. */
export function pccDetail(r: PccRule): string {
  const head = keyValues([
    ['pcc rule', r.pcc_rule_id],
    ['precedence', String(r.precedence)],
    ['ue ip', r.ue_ip ?? '-'],
    ['action', renderAction(r.action)],
    ['packets', `${packets(r.counters)}${r.counters ? `, ${count(r.counters.bytes)} bytes` : ' (datapath absent)'}`],
    ['revision', String(r.revision)],
    ['updated', r.updated_at],
  ]);
  const rows = r.flow_infos.flatMap((f, i) => f.flows.map((fl, j) => [
    j === 0 ? `[${i}] ${f.flow_description} (${f.flow_direction})` : '', String(fl.id), renderRule(fl), packets(fl.counters),
  ]));
  return `${head}
${table([{ header: 'FILTER' }, { header: 'FLOW', align: 'right' }, { header: 'MATCH' }, { header: 'PACKETS', align: 'right' }], rows)}`;
}

/** One line per event with fixed-width columns (a stream cannot be aligned afterwards). */
export const WATCH_HEADER = `${'REV'.padStart(8)}  ${'KIND'.padEnd(6)}  ${'ID'.padStart(6)}  ${'KEY'.padEnd(44)}  ACTION`;
export function watchLine(e: FlowEvent): string {
  return `${String(e.revision).padStart(8)}  ${e.kind.padEnd(6)}  ${String(e.id).padStart(6)}  ${renderRule(e.flow).padEnd(44)}  ${renderAction(e.flow.action)}`.trimEnd();
}

export const EVENT_HEADER = `${'TIME'.padEnd(15)}  ${'AT/Q'.padEnd(5)}  ${'ACTION'.padEnd(8)}  ${'REASON'.padEnd(17)}  ${'RULE'.padStart(6)}  ${'PROTO'.padEnd(6)}  ${'SOURCE -> DESTINATION'.padEnd(50)}  LEN`;
/** One packet event as a row: time of day (µs), attachment/queue, what XDP did and why, the tuple. */
export function eventLine(e: PacketEvent): string {
  const at = (ip: string | null, port: number | null) => (ip === null ? '-' : `${e.family === 6 ? `[${ip}]` : ip}${port ? `:${port}` : ''}`);
  const tuple = e.family === null ? '(not parsed)' : `${at(e.src, e.src_port)} -> ${at(e.dst, e.dst_port)}`;
  const proto = e.proto === null ? '-' : protocolName(e.proto);
  const lost = e.lost ? `  (${e.lost} lost before)` : '';
  return `${e.time.slice(11, 26).padEnd(15)}  ${`${e.attachment}/${e.queue}`.padEnd(5)}  ${e.action.padEnd(8)}  ${e.reason.padEnd(17)}  ${String(e.rule_id ?? '-').padStart(6)}  ${proto.padEnd(6)}  ${tuple.padEnd(50)}  ${e.len}${lost}`;
}

export function eventConfigText(c: PacketEventConfig): string {
  const one = (n: number) => (n === 0 ? 'none' : n === 1 ? 'every packet' : `1 in ${count(n)}`);
  return keyValues([
    ['events', c.enabled ? 'enabled (emitted while a stream is open)' : 'disabled'],
    ['PASS', one(c.sample.pass)],
    ['DROP', one(c.sample.drop)],
    ['REDIRECT', one(c.sample.redirect)],
    ['rate limit', `${count(c.rate_per_cpu)} a second per CPU, bursts of ${count(c.burst)}`],
  ]);
}

const orDash = (v: unknown) => (v === null || v === undefined || v === '' ? '-' : String(v));

function datapathSection(s: Stats): string {
  const d = s.datapath;
  const pairs: [string, string][] = [
    ['datapath', d.present ? `present${d.map_id ? ` (pcf_flow_map id ${d.map_id})` : ''}` : 'absent (no pinned maps: rules are stored and pushed when they appear)'],
    ['pin dir', d.pin_dir],
    ['rules', `${count(d.rules_in_db)} in db, ${count(d.rules_in_map)} in map, capacity ${count(d.map_capacity)}`],
    ['classifier', s.classifier ? `${count(s.classifier.rules)} rules with a precedence, ${s.classifier.shapes}/${s.classifier.max_shapes} shapes, fullest bucket ${s.classifier.fullest_bucket}/${s.classifier.max_rules_per_bucket}, generation ${orDash(s.classifier.generation)}` : '-'],
    ['default action', orDash(d.default_action)],
    ['rx queues', orDash(d.rx_queues)],
    // An interface's place in the pin dir (pcf-xdp attach --attachment N), not an L4 port.
    ['attachments', d.attachments.length ? d.attachments.map((a) => `${a.attachment}: ifindex ${a.ifindex}, ${a.rx_queues} rx queue(s), default ${a.default_action}`).join('; ') : '-'],
    ['last reconcile', orDash(d.last_reconcile_at)],
  ];
  if (d.error) pairs.push(['error', d.error]);
  pairs.push(['read at', s.read_at]);
  return keyValues(pairs);
}

function xdpSection(s: Stats): string {
  const all = Object.entries(s.xdp ?? {});
  if (all.length === 0) return 'XDP counters: none (datapath absent)\n';
  const nonzero = all.filter(([, c]) => c.packets > 0 || c.bytes > 0);
  if (nonzero.length === 0) return `XDP counters: all ${all.length} are zero\n`;
  return table(
    [{ header: 'XDP COUNTER' }, { header: 'PACKETS', align: 'right' }, { header: 'BYTES', align: 'right' }],
    nonzero.map(([name, c]) => [name, count(c.packets), count(c.bytes)]),
  );
}

function rulesSection(s: Stats): string {
  if (!s.rules) return '';
  const rules = s.rules;
  if (rules.length === 0) return 'rule counters: no rule has matched a packet\n';
  return table(
    [{ header: 'RULE', align: 'right' }, { header: 'PACKETS', align: 'right' }, { header: 'BYTES', align: 'right' }],
    rules.map((r) => [String(r.id), count(r.packets), count(r.bytes)]),
  );
}

/** WORKERS: each AF_XDP worker's latest report, one row per RX queue, with its age. */
function workersSection(s: Stats): string {
  const workers = s.workers ?? [];
  if (workers.length === 0) return 'workers: none reporting\n';
  const right = (header: string) => ({ header, align: 'right' as const });
  const rows = workers.flatMap((w) => {
    const state = `${w.stale ? 'STALE' : 'ok'} ${(w.age_ms / 1000).toFixed(1)}s`;
    const queues = w.queues.length ? w.queues : [null];
    return queues.map((q) => {
      const c = q?.counters;
      const drops = c ? Object.entries(c.drops).filter(([, n]) => n > 0).map(([why, n]) => `${why}=${count(n)}`).join(' ') : '';
      return [w.worker_id, `${w.iface}->${w.egress}`, `${w.xdp_mode}/${w.poll_mode}`, state, q ? String(q.attachment) : '-', q ? String(q.queue) : '-',
        count(c?.rx_packets), count(c?.tx_packets), count(c?.nat), count(c?.ttl_expired), count(c?.mirrored), drops || '-'];
    });
  });
  return table(
    [{ header: 'WORKER' }, { header: 'PATH' }, { header: 'MODE' }, { header: 'STATE' }, right('ATTACHMENT'), right('QUEUE'), right('RX'), right('TX'),
      right('NAT'), right('TTL_EXPIRED'), right('MIRRORED'), { header: 'DROPS' }],
    rows,
  );
}

export function statsText(s: Stats): string {
  return [datapathSection(s), xdpSection(s), rulesSection(s), workersSection(s)].filter(Boolean).join('\n');
}
