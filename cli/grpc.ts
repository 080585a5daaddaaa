// grpc.ts - pcfctl over pcf.v1.PcfControl, with the server's own proto loader (one set of
// loader options: api/proto.ts PROTO_OPTIONS) and the messages' generated types. Messages are
// converted to the REST shapes for display; --json prints the message as decoded.
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { loadPcfPackage, MAX_MESSAGE_BYTES } from '../api/proto.js';
import { KEY_PROTOCOLS, MATCH_PROTOCOLS } from '../api/protocols.js';
import { countersFromMessage, queueView } from '../api/worker_report.js';
import type { Flow__Output } from '../server/generated/proto/pcf/v1/Flow.js';
import type { FlowDirection } from '../server/generated/proto/pcf/v1/FlowDirection.js';
import type { FlowEvent__Output } from '../server/generated/proto/pcf/v1/FlowEvent.js';
import type { PacketEvent__Output } from '../server/generated/proto/pcf/v1/PacketEvent.js';
import type { PacketEventConfig__Output } from '../server/generated/proto/pcf/v1/PacketEventConfig.js';
import type { PccRule__Output } from '../server/generated/proto/pcf/v1/PccRule.js';
import type { PcfControlClient, PcfControlDefinition } from '../server/generated/proto/pcf/v1/PcfControl.js';
import type { PortRange__Output } from '../server/generated/proto/pcf/v1/PortRange.js';
import type { Stats__Output } from '../server/generated/proto/pcf/v1/Stats.js';
import type { UpsertFlowRequest } from '../server/generated/proto/pcf/v1/UpsertFlowRequest.js';
import {
  CliError, EXIT, NO_SECURITY, RefusedError, unreachable, usageError, type ClientSecurity,
  type ActionType, type EventFilter, type Flow, type FlowKey, type PacketEvent, type PacketEventConfig, type PccRule, type PccRuleSpec, type FlowEvent, type FlowFilter,
  type PcfClient, type Stats, type UpsertManyResult, type Watch, type WithRaw,
} from './client.js';

/** PcfControl's unary methods, with the message each takes and the one it answers. */
type Unary = Exclude<keyof PcfControlDefinition, 'WatchFlows' | 'WatchPacketEvents'>;
type RequestOf<M extends Unary> = PcfControlDefinition[M] extends MethodDefinition<infer Req, any, any, any> ? Req : never;
type ResponseOf<M extends Unary> = PcfControlDefinition[M] extends MethodDefinition<any, any, any, infer Res> ? Res : never;
/** One of a unary method's overloads: TypeScript cannot pick one for a method chosen by a type parameter. */
type UnaryFn<M extends Unary> = (req: RequestOf<M>, meta: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<ResponseOf<M>>) => grpc.ClientUnaryCall;

/** "host:port" as grpc-js dials it; the port defaults to 50051. */
export function grpcTarget(addr: string): string {
  const a = addr.replace(/^grpc:\/\//, '').replace(/\/+$/, '');
  if (/^(\[[^\]]+\]|[^:[\]/\s]+):\d+$/.test(a)) return a;
  if (/^[^:[\]/\s]+$/.test(a)) return `${a}:50051`;
  throw usageError(`--grpc: ${JSON.stringify(addr)} is not host:port (an IPv6 address goes in brackets: [::1]:50051)`);
}

/** gRPC status details to pcfctl's lines. INVALID_ARGUMENT details are "field: message; field: message". */
export function statusLines(code: number, details: string): string[] {
  const lines = code === grpc.status.INVALID_ARGUMENT ? details.split(/; (?=[A-Za-z_][\w.[\]]*: )/) : [details || 'request failed'];
  const fieldCodes: number[] = [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.RESOURCE_EXHAUSTED, grpc.status.FAILED_PRECONDITION];
  return fieldCodes.includes(code) ? lines : lines.map((l) => `${l} (gRPC ${grpc.status[code] ?? code})`);
}

const dropNulls = <T extends object>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as { [K in keyof T]?: Exclude<T[K], null> };
/** A JSON object as the user wrote it (a file or a flag), before the server has checked it. */
type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A FlowSpec as REST takes it to a FlowSpec message: proto names to numbers (the message has
 * uint32), nulls dropped (unset optional fields). Anything else goes as written; the server
 * validates it and names the field.
 */
export function specToMessage(raw: unknown, where: string): unknown {
  if (!isObject(raw)) return raw;
  const out: Json = { ...raw };
  if (isObject(raw.key)) {
    const p = raw.key.proto;
    let proto = p;
    if (typeof p === 'string') {
      proto = /^\d+$/.test(p) ? Number(p) : KEY_PROTOCOLS[p.toLowerCase()];
      if (proto === undefined) throw usageError(`${where}key.proto: ${JSON.stringify(p)} is not tcp, udp, icmp or a protocol number`);
    }
    out.key = { ...raw.key, proto };
  }
  if (isObject(raw.match)) {
    const m = raw.match;
    const proto = typeof m.proto === 'string' ? (/^\d+$/.test(m.proto) ? Number(m.proto) : MATCH_PROTOCOLS[m.proto.toLowerCase()] ?? m.proto) : m.proto;
    // "lo-hi" or a number to a PortRange; anything else goes as written for the server to refuse.
    const ports = (p: unknown) => {
      if (typeof p === 'number') return { first: p, last: p };
      const r = typeof p === 'string' ? /^(\d+)-(\d+)$/.exec(p) : null;
      return r ? { first: Number(r[1]), last: Number(r[2]) } : p;
    };
    out.match = dropNulls({ ...m, proto, src_ports: ports(m.src_ports), dst_ports: ports(m.dst_ports) });
  }
  if (isObject(raw.action)) {
    out.action = dropNulls({ ...raw.action, nat: isObject(raw.action.nat) ? dropNulls(raw.action.nat) : null });
  }
  return out;
}

export function flowFromMessage(m: Flow__Output): Flow {
  const k = m.key ?? {};
  const a = m.action ?? {};
  const n = a.nat;
  const mm = m.match ?? {};
  const ports = (r: PortRange__Output | undefined) => (r ? ((r.first ?? 0) === (r.last ?? 0) ? r.first ?? 0 : `${r.first ?? 0}-${r.last ?? 0}`) : undefined);
  return {
    id: m.id ?? 0,
    ...(m.key ? { key: { src_ip: k.src_ip ?? '', dst_ip: k.dst_ip ?? '', src_port: k.src_port ?? 0, dst_port: k.dst_port ?? 0, proto: (k.proto ?? 0) as FlowKey['proto'] } } : {}),
    match: dropNulls({ src: mm.src, dst: mm.dst, src_ports: ports(mm.src_ports), dst_ports: ports(mm.dst_ports), proto: mm.proto }),
    precedence: m.precedence ?? null,
    ...(m.pcc_rule_id ? { pcc_rule_id: m.pcc_rule_id } : {}),
    ...(m.flow_description ? { flow_description: m.flow_description, flow_direction: directionOf(m.flow_direction) } : {}),
    action: {
      type: (a.type ?? 'ACTION_TYPE_UNSPECIFIED') as Flow['action']['type'], // shown as sent
      ttl_delta: a.ttl_delta ?? null,
      nat: n ? { snat_ip: n.snat_ip ?? null, snat_port: n.snat_port ?? null, dnat_ip: n.dnat_ip ?? null, dnat_port: n.dnat_port ?? null } : null,
      mark: a.mark ?? null,
      queue_id: a.queue_id ?? null,
      mirror: a.mirror ?? false,
    },
    revision: m.revision ?? 0,
    created_at: m.created_at ?? '',
    updated_at: m.updated_at ?? '',
    ...(m.counters ? { counters: { packets: m.counters.packets ?? 0, bytes: m.counters.bytes ?? 0 } } : {}),
  };
}

const directionToMessage = (d: unknown) => (!d || d === 'UNSPECIFIED' ? 'FLOW_DIRECTION_UNSPECIFIED' : d) as FlowDirection;
const directionOf = (d: unknown) => (!d || d === 'FLOW_DIRECTION_UNSPECIFIED' ? 'UNSPECIFIED' : d) as PccRule['flow_infos'][number]['flow_direction'];

function pccFromMessage(m: PccRule__Output): PccRule {
  const counter = (c: { packets?: number; bytes?: number } | undefined) => (c ? { packets: c.packets ?? 0, bytes: c.bytes ?? 0 } : undefined);
  return {
    pcc_rule_id: m.pcc_rule_id ?? '', precedence: m.precedence ?? 0, ue_ip: m.ue_ip ?? null,
    action: flowFromMessage({ action: m.action }).action,
    flow_infos: (m.flow_infos ?? []).map((f) => ({
      flow_description: f.flow_description ?? '', flow_direction: directionOf(f.flow_direction),
      flows: (f.flows ?? []).map(flowFromMessage), ...(f.counters ? { counters: counter(f.counters) } : {}),
    })),
    ...(m.counters ? { counters: counter(m.counters) } : {}),
    revision: m.revision ?? 0, created_at: m.created_at ?? '', updated_at: m.updated_at ?? '',
  };
}

function statsFromMessage(m: Stats__Output, withRules: boolean): Stats {
  const d = m.datapath ?? {};
  const xdp: Stats['xdp'] = {};
  for (const [name, c] of Object.entries(m.xdp ?? {})) xdp[name] = { packets: c.packets ?? 0, bytes: c.bytes ?? 0 };
  return {
    read_at: m.read_at ?? '',
    revision: m.revision ?? 0,
    datapath: {
      present: d.present ?? false,
      pin_dir: d.pin_dir ?? '',
      rules_in_db: d.rules_in_db ?? 0,
      rules_in_map: d.rules_in_map ?? null,
      map_capacity: d.map_capacity ?? null,
      map_id: d.map_id ?? null,
      default_action: d.default_action ?? null,
      rx_queues: d.rx_queues ?? null,
      attachments: (d.attachments ?? []).map((a) => ({ attachment: a.attachment ?? 0, ifindex: a.ifindex ?? 0, rx_queues: a.rx_queues ?? 0, default_action: a.default_action ?? '' })),
      last_reconcile_at: d.last_reconcile_at ?? null,
      error: d.error ?? null,
    },
    classifier: {
      rules: m.classifier?.rules ?? 0, shapes: m.classifier?.shapes ?? 0, max_shapes: m.classifier?.max_shapes ?? 0,
      buckets: m.classifier?.buckets ?? 0, fullest_bucket: m.classifier?.fullest_bucket ?? 0,
      max_rules_per_bucket: m.classifier?.max_rules_per_bucket ?? 0, generation: m.classifier?.generation ?? null,
    },
    xdp,
    rules: !withRules ? undefined : (m.rules ?? []).map((r) => ({ id: r.id ?? 0, packets: r.packets ?? 0, bytes: r.bytes ?? 0 })),
    workers: (m.workers ?? []).map((w) => {
      const c = countersFromMessage(w);
      return { ...c, queues: c.queues.map(queueView), started_at: w.started_at ?? '', received_at: w.received_at ?? '', age_ms: Number(w.age_ms ?? 0), stale: w.stale ?? false };
    }),
    maps: Object.fromEntries(Object.entries(m.maps ?? {}).map(([name, p]) => [name, {
      type: p.type ?? '', id: p.id ?? 0, capacity: Number(p.capacity ?? 0), elements: p.elements ?? null,
      memory_bytes: p.memory_bytes ?? null, used_pct: p.used_pct ?? null,
    }])),
  };
}

export function eventFromMessage(m: FlowEvent__Output): FlowEvent {
  return { revision: m.revision ?? 0, kind: m.kind as FlowEvent['kind'], id: m.id ?? 0, flow: flowFromMessage(m.flow ?? {}) };
}

export class GrpcClient implements PcfClient {
  readonly target: string;
  private readonly client: PcfControlClient;

  private readonly meta = new grpc.Metadata();

  constructor(addr: string, private readonly timeoutMs: number, sec: ClientSecurity = NO_SECURITY) {
    const hostPort = grpcTarget(addr);
    this.target = `${hostPort} (gRPC${sec.tls ? ', TLS' : ''})`;
    const Ctor = loadPcfPackage().pcf.v1.PcfControl;
    if (sec.token) this.meta.set('authorization', `Bearer ${sec.token}`);
    const creds = sec.tls ? grpc.credentials.createSsl(sec.ca, sec.key, sec.cert) : grpc.credentials.createInsecure();
    this.client = new Ctor(hostPort, creds, {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
  }

  private error(code: number, details: string): CliError {
    if (code === grpc.status.UNAVAILABLE)
      // "No connection established. Last error: connect ECONNREFUSED 127.0.0.1:50051 (2025-01-01T00:00:00.000Z)"
      return unreachable(this.target, details.replace(/^No connection established\. Last error: /, '').replace(/ \(\d{4}-\d\d-\d\dT[^)]*\)$/, ''));
    if (code === grpc.status.DEADLINE_EXCEEDED) return unreachable(this.target, `no answer within ${this.timeoutMs} ms`);
    const lines = statusLines(code, details);
    const fields = code === grpc.status.INVALID_ARGUMENT
      ? lines.map((l) => /^([A-Za-z_][\w.[\]]*): (.*)$/s.exec(l)).filter((m) => m !== null).map((m) => ({ field: m[1], message: m[2] }))
      : [];
    return new RefusedError(lines, fields);
  }

  private unary<M extends Unary>(method: M, req: RequestOf<M>): Promise<ResponseOf<M>> {
    const fn = (this.client as unknown as Record<M, UnaryFn<M>>)[method];
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, this.meta, { deadline: Date.now() + this.timeoutMs }, (err, res) =>
        err ? reject(this.error(err.code, err.details)) : resolve(res!));
    });
  }

  async upsert(spec: unknown) {
    const m = await this.unary('UpsertFlow', specToMessage(spec, '') as UpsertFlowRequest);
    return { flow: flowFromMessage(m.flow ?? {}), created: m.created ?? false, raw: m };
  }

  async upsertMany(specs: unknown[]): Promise<WithRaw<UpsertManyResult>> {
    const m = await this.unary('BatchUpsertFlows', { flows: specs.map((s, i) => specToMessage(s, `flows[${i}].`) as UpsertFlowRequest) });
    return { created: m.created ?? 0, updated: m.updated ?? 0, ids: m.ids ?? [], revision: m.revision ?? 0, raw: m };
  }

  async list(filter: FlowFilter, limit: number | undefined, cursor: number | undefined) {
    const p = filter.proto;
    const req = dropNulls({
      ...filter,
      proto: typeof p === 'string' ? (/^\d+$/.test(p) ? Number(p) : KEY_PROTOCOLS[p.toLowerCase()]) : p,
      limit,
      cursor,
    });
    const m = await this.unary('ListFlows', req);
    return { flows: (m.flows ?? []).map(flowFromMessage), next_cursor: m.next_cursor ?? null, raw: m };
  }

  async get(id: number) {
    const m = await this.unary('GetFlow', { id });
    return { flow: flowFromMessage(m), raw: m };
  }

  async delete(id: number) {
    return { raw: await this.unary('DeleteFlow', { id }) };
  }

  async deleteMany(ids: number[]) {
    const m = await this.unary('BatchDeleteFlows', { ids });
    return { deleted: Number(m.deleted ?? 0), revision: Number(m.revision ?? 0), raw: m };
  }

  async stats(rules = false) {
    const m = await this.unary('GetStats', { rules });
    return { stats: statsFromMessage(m, rules), raw: m };
  }

  async upsertPcc(id: string, spec: unknown) {
    // As written (the server checks it), with PccRuleSpec's field names.
    const s = (spec ?? {}) as Partial<PccRuleSpec>;
    const req = dropNulls({
      pcc_rule_id: id, precedence: s.precedence, ue_ip: s.ue_ip,
      action: (specToMessage({ action: s.action }, '') as UpsertFlowRequest).action,
      flow_infos: (s.flow_infos ?? []).map((f) => ({ flow_description: f.flow_description, flow_direction: directionToMessage(f.flow_direction) })),
    });
    const m = await this.unary('UpsertPccRule', req);
    return { rule: pccFromMessage(m.pcc_rule ?? {}), created: m.created ?? false, raw: m };
  }

  async getPcc(id: string) {
    const m = await this.unary('GetPccRule', { pcc_rule_id: id });
    return { rule: pccFromMessage(m), raw: m };
  }

  async listPcc(limit: number | undefined, cursor: string | undefined) {
    const m = await this.unary('ListPccRules', dropNulls({ limit, cursor }));
    return { rules: (m.pcc_rules ?? []).map(pccFromMessage), next_cursor: m.next_cursor ?? null, raw: m };
  }

  async deletePcc(id: string) {
    return { raw: await this.unary('DeletePccRule', { pcc_rule_id: id }) };
  }

  async eventConfig() {
    const m = await this.unary('GetPacketEventConfig', {});
    return { config: eventConfigFromMessage(m), raw: m };
  }

  async setEventConfig(c: PacketEventConfig) {
    const m = await this.unary('SetPacketEventConfig', c);
    return { config: eventConfigFromMessage(m), raw: m };
  }

  /** WatchPacketEvents until cancel(). */
  observe(filter: EventFilter, onEvent: (e: PacketEvent, raw: unknown) => void, onLost: (n: number) => void): Watch {
    const call = this.client.WatchPacketEvents(dropNulls({ ...filter }), this.meta);
    // A message without an action carries only the count of events dropped for this client.
    return this.stream(call, 'observe', (m: PacketEvent__Output) => (m.action ? onEvent(packetEventFromMessage(m), m) : onLost(Number(m.lost ?? 0))));
  }

  /** WatchFlows: changes after `from`, then live ones, until cancel(). */
  watch(from: number | undefined, onEvent: (e: FlowEvent, raw: FlowEvent__Output) => void): Watch {
    const call = this.client.WatchFlows(from === undefined ? {} : { from_revision: from }, this.meta);
    return this.stream(call, 'watch', (m: FlowEvent__Output) => onEvent(eventFromMessage(m), m));
  }

  /** A server stream until cancel(): its messages to onData, its end to `done`. */
  private stream<M>(call: grpc.ClientReadableStream<M>, what: string, onData: (m: M) => void): Watch {
    let cancelled = false;
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', onData);
      call.on('error', () => {}); // the 'status' event that follows decides
      call.on('status', (s: grpc.StatusObject) => {
        if (cancelled && (s.code === grpc.status.OK || s.code === grpc.status.CANCELLED)) resolve();
        // The server ends open streams when it stops.
        else if (s.code === grpc.status.OK) reject(new CliError([`${what}: the control plane at ${this.target} ended the stream (it is stopping)`], EXIT.UNREACHABLE));
        // Not cancelled here: the server went away (a shutdown cancels open streams).
        else if (s.code === grpc.status.CANCELLED) reject(new CliError([`${what}: the control plane at ${this.target} closed the stream (${s.details})`], EXIT.UNREACHABLE));
        else reject(this.error(s.code, s.details));
      });
    });
    return {
      cancel: () => {
        cancelled = true;
        call.cancel();
      },
      done,
    };
  }

  close(): void {
    this.client.close();
  }
}

function eventConfigFromMessage(m: PacketEventConfig__Output): PacketEventConfig {
  return {
    enabled: m.enabled ?? false,
    sample: { pass: m.sample?.pass ?? 0, drop: m.sample?.drop ?? 0, redirect: m.sample?.redirect ?? 0 },
    rate_per_cpu: m.rate_per_cpu ?? 0,
    burst: m.burst ?? 0,
  };
}

/** A PacketEvent message in the API's form (unset optional fields are null). */
function packetEventFromMessage(m: PacketEvent__Output): PacketEvent {
  return {
    time: m.time ?? '', attachment: m.attachment ?? 0, ifindex: m.ifindex ?? 0, queue: m.queue ?? 0, cpu: m.cpu ?? 0,
    action: (m.action ?? 'PASS') as ActionType, reason: m.reason ?? '', rule_id: m.rule_id ?? null, len: m.len ?? 0,
    family: (m.family ?? null) as 4 | 6 | null, proto: m.proto ?? null, src: m.src ?? null, dst: m.dst ?? null,
    src_port: m.src_port ?? null, dst_port: m.dst_port ?? null, lost: Number(m.lost ?? 0),
  };
}
