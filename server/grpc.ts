// grpc.ts - pcf.v1.PcfControl over the same service layer as REST, with the standard health
// and reflection services (grpc_health.ts). Built apart from binding (createGrpcServer); the
// entry point or a test binds it.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { loadPcfPackage, MAX_MESSAGE_BYTES } from '../api/proto.js';
import { reportFromMessage } from '../api/worker_report.js';
import type { Flow as FlowMessage } from './generated/proto/pcf/v1/Flow.js';
import type { FlowDirection } from './generated/proto/pcf/v1/FlowDirection.js';
import type { FlowEvent as FlowEventMessage } from './generated/proto/pcf/v1/FlowEvent.js';
import type { FlowSpec__Output } from './generated/proto/pcf/v1/FlowSpec.js';
import type { Match__Output } from './generated/proto/pcf/v1/Match.js';
import type { PccRule as PccRuleMessage } from './generated/proto/pcf/v1/PccRule.js';
import type { PcfControlHandlers } from './generated/proto/pcf/v1/PcfControl.js';
import type { PortRange, PortRange__Output } from './generated/proto/pcf/v1/PortRange.js';
import type { UpsertPccRuleRequest__Output } from './generated/proto/pcf/v1/UpsertPccRuleRequest.js';
import type { WatchFlowsRequest__Output } from './generated/proto/pcf/v1/WatchFlowsRequest.js';
import type { PacketEvent as PacketEventMessage } from './generated/proto/pcf/v1/PacketEvent.js';
import type { WatchPacketEventsRequest__Output } from './generated/proto/pcf/v1/WatchPacketEventsRequest.js';
import type { WorkerReportHandlers } from './generated/proto/pcf/v1/WorkerReport.js';
import type { Tokens } from './auth.js';
import { CapacityError, CompactedError, ConflictError, NotFoundError, OutOfRangeError, quote, UnauthenticatedError, UnavailableError, ValidationError } from './errors.js';
import type { Flow, FlowEvent, FlowFilter } from './model.js';
import { DEFAULT_GRPC_LIMITS, type GrpcLimits } from './config.js';
import { BATCH_STEP, type FlowService, type PccRule } from './service.js';
import { encodeBatchAnswer, flowsOf } from './grpc_batch.js';
import { healthAndReflection } from './grpc_health.js';
import { MAX_BACKLOG_MESSAGES } from './packet_events.js';
import type { WatchSink } from './watch.js';

/** A PortRange message in the API's form: one port as a number, else "first-last". */
const portsFromMessage = (r: PortRange__Output | undefined) => (r ? ((r.first ?? 0) === (r.last ?? 0) ? (r.first ?? 0) : `${r.first ?? 0}-${r.last ?? 0}`) : undefined);

/** A Match message in the API's form (openapi.yaml Match; the service checks it as part of its FlowSpec). */
function matchFromMessage(m: Match__Output | undefined): unknown {
  if (!m) return undefined;
  return dropNulls({ src: m.src, dst: m.dst, src_ports: portsFromMessage(m.src_ports), dst_ports: portsFromMessage(m.dst_ports), proto: m.proto });
}

/** The API's direction name of a FlowDirection enum value. */
const directionOf = (d: string | undefined) => (!d || d === 'FLOW_DIRECTION_UNSPECIFIED' ? 'UNSPECIFIED' : d);
const directionToMessage = (d: string | undefined) => (!d || d === 'UNSPECIFIED' ? 'FLOW_DIRECTION_UNSPECIFIED' : d) as FlowDirection;

/**
 * A gRPC FlowSpec-shaped message in the API's form (proto3 defaults filled in): the service
 * checks it against openapi.yaml's FlowSpec like a REST body, then its meaning, naming fields
 * as REST does ("flows[3].action.type").
 */
function specFromMessage(m: FlowSpec__Output | undefined): unknown {
  if (!m) return m;
  const k = m.key;
  const a = m.action;
  return {
    ...(m.match ? { match: matchFromMessage(m.match) } : {}),
    ...(m.precedence !== undefined && m.precedence !== null ? { precedence: m.precedence } : {}),
    ...(m.flow_description !== undefined ? { flow_description: m.flow_description, flow_direction: directionOf(m.flow_direction), ue_ip: m.ue_ip } : {}),
    key: k && { src_ip: k.src_ip ?? '', dst_ip: k.dst_ip ?? '', src_port: k.src_port ?? 0, dst_port: k.dst_port ?? 0, proto: k.proto ?? 0 },
    action: a && {
      type: a.type ?? 'ACTION_TYPE_UNSPECIFIED',
      ttl_delta: a.ttl_delta ?? null,
      nat: a.nat ? { snat_ip: a.nat.snat_ip ?? null, snat_port: a.nat.snat_port ?? null, dnat_ip: a.nat.dnat_ip ?? null, dnat_port: a.nat.dnat_port ?? null } : null,
      mark: a.mark ?? null,
      queue_id: a.queue_id ?? null,
      mirror: a.mirror ?? false,
    },
  };
}

/** The object without its null and undefined fields (unset optional fields of a message). */
const dropNulls = <T extends object>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as { [K in keyof T]?: Exclude<T[K], null> };

/** "lo-hi" or a number to a PortRange message. */
function portsToMessage(p: number | string | undefined): PortRange | undefined {
  if (p === undefined) return undefined;
  const [first, last] = String(p).split('-').map(Number);
  return { first, last: last ?? first };
}

export function flowToMessage(f: Flow): FlowMessage {
  const m = f.match;
  return {
    id: f.id,
    ...(f.key ? { key: f.key } : {}),
    match: dropNulls({ src: m.src, dst: m.dst, src_ports: portsToMessage(m.src_ports), dst_ports: portsToMessage(m.dst_ports), proto: m.proto }),
    ...(f.precedence !== null ? { precedence: f.precedence } : {}),
    ...(f.pcc_rule_id !== undefined ? { pcc_rule_id: f.pcc_rule_id } : {}),
    ...(f.flow_description !== undefined ? { flow_description: f.flow_description, flow_direction: directionToMessage(f.flow_direction) } : {}),
    action: dropNulls({ ...f.action, nat: f.action.nat ? dropNulls({ ...f.action.nat }) : null }),
    revision: f.revision,
    created_at: f.created_at,
    updated_at: f.updated_at,
    ...(f.counters ? { counters: f.counters } : {}),
  };
}

function pccToMessage(r: PccRule): PccRuleMessage {
  return {
    ...r,
    ue_ip: r.ue_ip ?? undefined,
    action: dropNulls({ ...r.action, nat: r.action.nat ? dropNulls({ ...r.action.nat }) : null }),
    flow_infos: r.flow_infos.map((fi) => ({ ...fi, flow_direction: directionToMessage(fi.flow_direction), flows: fi.flows.map(flowToMessage) })),
  };
}

/**
 * An UpsertPccRuleRequest in the API's form: the service checks the id and the body against
 * openapi.yaml's PccRuleId and PccRuleSpec like a REST request, then their meaning.
 */
function pccFromMessage(m: UpsertPccRuleRequest__Output): { id: string; body: unknown } {
  const spec = specFromMessage({ action: m.action }) as { action: unknown };
  const body = dropNulls({
    precedence: m.precedence ?? 0,
    flow_infos: (m.flow_infos ?? []).map((fi) => ({ flow_description: fi.flow_description ?? '', flow_direction: directionOf(fi.flow_direction) })),
    action: spec.action,
    ue_ip: m.ue_ip,
  });
  return { id: m.pcc_rule_id ?? '', body };
}

function eventToMessage(e: FlowEvent): FlowEventMessage {
  return { revision: e.revision, kind: e.kind, id: e.id, flow: flowToMessage(e.flow) };
}

function toStatus(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof ValidationError) return { code: grpc.status.INVALID_ARGUMENT, details: err.message };
  if (err instanceof NotFoundError) return { code: grpc.status.NOT_FOUND, details: `${err.field}: ${err.message}` };
  if (err instanceof CapacityError) return { code: grpc.status.RESOURCE_EXHAUSTED, details: `${err.field}: ${err.message}` };
  if (err instanceof ConflictError) return { code: grpc.status.FAILED_PRECONDITION, details: `${err.field}: ${err.message}` };
  if (err instanceof CompactedError) return { code: grpc.status.FAILED_PRECONDITION, details: `${err.field}: ${err.message}` };
  if (err instanceof OutOfRangeError) return { code: grpc.status.OUT_OF_RANGE, details: `${err.field}: ${err.message}` };
  if (err instanceof UnauthenticatedError) return { code: grpc.status.UNAUTHENTICATED, details: err.message };
  if (err instanceof UnavailableError) return { code: grpc.status.UNAVAILABLE, details: err.message };
  return { code: grpc.status.INTERNAL, details: (err as Error)?.message ?? String(err) };
}

/** A BatchUpsertFlows request's bytes, decoded a step at a time by the handler (grpc_batch.ts). */
const UNDECODED = Symbol('undecoded');

/** BatchUpsertFlows' rules, a step at a time, in the service's form. */
async function* batchSteps(req: unknown): AsyncGenerator<unknown[]> {
  const buf = (req as { [UNDECODED]: Buffer })[UNDECODED];
  for (const step of flowsOf(buf, BATCH_STEP)) yield step.map((f) => specFromMessage(f));
}

/** Marks a request that did not decode (see decodeOrMark). */
const UNDECODABLE = Symbol('undecodable');

/**
 * The service definition with request decoders that do not throw: grpc-js answers a decoder's
 * throw with INTERNAL, but bytes that are not the message are the client's error. The handler
 * gets a marked request and answers INVALID_ARGUMENT (checkDecoded).
 */
function decodeOrMark(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(Object.entries(def).map(([name, m]) => [name, {
    ...m,
    ...(name === 'BatchUpsertFlows' ? { responseSerialize: encodeBatchAnswer } : {}),
    requestDeserialize: name === 'BatchUpsertFlows' ? (buf: Buffer) => ({ [UNDECODED]: buf }) : (buf: Buffer) => {
      try {
        return m.requestDeserialize(buf);
      } catch (err) {
        return { [UNDECODABLE]: `does not decode as the request of ${m.path}: ${quote((err as Error).message)}` };
      }
    },
  }])) as grpc.ServiceDefinition;
}

function checkDecoded(req: unknown): void {
  const why = (req as { [UNDECODABLE]?: string } | null)?.[UNDECODABLE];
  if (why) throw ValidationError.one('request', why);
}

function unaryCall<Req, Res>(log: Logger, fn: (req: Req) => Res | Promise<Res>, admit: (call: any) => void): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const fail = (err: unknown) => {
      const s = toStatus(err);
      if (s.code === grpc.status.INTERNAL) log.error({ err }, 'gRPC call failed');
      callback(s as grpc.ServiceError);
    };
    try {
      admit(call);
      checkDecoded(call.request);
      Promise.resolve(fn(call.request)).then((res) => callback(null, res), fail);
    } catch (err) {
      fail(err);
    }
  };
}

/**
 * PcfControl, and with `workerReport` the worker's WorkerReport too: only the Unix socket
 * (mode 0600, root's) serves that, so nobody who merely reaches the TCP port can forge a
 * worker's counters.
 */
export function createGrpcServer(service: FlowService, log: Logger, limits: GrpcLimits = DEFAULT_GRPC_LIMITS,
  opts: { tokens: Tokens | null; workerReport?: boolean } = { tokens: null }): grpc.Server {
  const pkg = loadPcfPackage();
  const workerReport = opts.workerReport ?? false;
  // Every call of this server, before anything else: the token of its metadata.
  const admit = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>) => {
    if (!opts.tokens) return;
    const r = opts.tokens.check(call.metadata.get('authorization')[0]?.toString());
    if ('why' in r) {
      log.warn({ peer: call.getPeer(), method: call.getPath(), why: r.why }, 'unauthenticated call refused');
      throw new UnauthenticatedError(`${r.why}: send the authorization metadata "Bearer <token>"`);
    }
  };
  const unary = <Req, Res>(l: Logger, fn: (req: Req) => Res | Promise<Res>) => unaryCall<Req, Res>(l, fn, admit);
  /** A server stream: admitted and its request checked, then `start` (which returns its stop);
   * stopped when the client goes or the service stops. A refusal ends it with its status. */
  const serveStream = (call: grpc.ServerWritableStream<unknown, unknown>, start: () => () => void) => {
    let stop: (() => void) | null = null;
    try {
      admit(call);
      checkDecoded(call.request);
      stop = start();
    } catch (err) {
      call.emit('error', toStatus(err));
      return;
    }
    const offClose = service.onClose(() => call.end());
    const end = () => {
      stop?.();
      offClose();
    };
    call.on('cancelled', end);
    call.on('close', end);
    call.on('error', end);
  };
  const watchStallMs = limits.watchStallMs;
  const standard = healthAndReflection(service, workerReport);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_connection_idle_ms': limits.idleMs,
    'grpc.keepalive_time_ms': limits.keepaliveMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    interceptors: [standard.interceptor],
  });
  standard.addTo(server);
  server.addService(decodeOrMark(pkg.pcf.v1.PcfControl.service), {
    UpsertFlow: unary(log, async (req) => {
      const r = await service.upsertGrouped(specFromMessage(req));
      return { flow: flowToMessage(r.flow), created: r.created };
    }),
    DeleteFlow: unary(log, async (req) => {
      await service.delete(Number(req.id ?? 0));
      return {};
    }),
    GetFlow: unary(log, (req) => flowToMessage(service.get(Number(req.id ?? 0)))),
    ListFlows: unary(log, (req) => {
      const limit = req.limit ?? 0;
      if (limit > 1000) throw ValidationError.one('limit', `${limit} is not an integer in 1..1000`);
      const filter: FlowFilter = dropNulls({
        src_ip: req.src_ip, dst_ip: req.dst_ip, src_port: req.src_port, dst_port: req.dst_port, proto: req.proto,
        type: req.type && req.type !== 'ACTION_TYPE_UNSPECIFIED' ? req.type : undefined,
      });
      const page = service.list(filter, limit || 100, req.cursor ?? 0);
      return { flows: page.flows.map(flowToMessage), ...(page.next_cursor !== null ? { next_cursor: page.next_cursor } : {}) };
    }),
    BatchUpsertFlows: unary(log, (req) => service.batchUpsert(batchSteps(req))),
    BatchDeleteFlows: unary(log, (req) => service.batchDelete((req.ids ?? []).map(Number))),
    GetStats: unary(log, (req) => {
      const s = service.stats({ rules: req.rules === true });
      const d = s.datapath.drift;
      return {
        ...s,
        datapath: dropNulls({ ...s.datapath, drift: { checks: d.checks, checked_at: d.checked_at ?? undefined, duration_ms: d.duration_ms ?? undefined, repaired: d.repaired, ...(d.last_repair ? { last_repair: d.last_repair } : {}) } }),
        classifier: dropNulls({ ...s.classifier }),
        maps: Object.fromEntries(Object.entries(s.maps).flatMap(([name, m]) => (m ? [[name, dropNulls({ ...m })]] : []))),
      };
    }),
    UpsertPccRule: unary(log, async (req) => {
      const { id, body } = pccFromMessage(req);
      const r = await service.upsertPcc(id, body);
      return { pcc_rule: pccToMessage(r.rule), created: r.created };
    }),
    DeletePccRule: unary(log, async (req) => {
      await service.deletePcc(req.pcc_rule_id ?? '');
      return {};
    }),
    GetPccRule: unary(log, (req) => pccToMessage(service.getPcc(req.pcc_rule_id ?? ''))),
    ListPccRules: unary(log, (req) => {
      const limit = req.limit ?? 0;
      if (limit > 1000) throw ValidationError.one('limit', `${limit} is not an integer in 1..1000`);
      const page = service.listPcc(limit || 100, req.cursor ?? '');
      return { pcc_rules: page.pcc_rules.map(pccToMessage), ...(page.next_cursor !== null ? { next_cursor: page.next_cursor } : {}) };
    }),
    WatchFlows: (call: grpc.ServerWritableStream<WatchFlowsRequest__Output, FlowEventMessage>) => {
      const from = call.request.from_revision;
      serveStream(call, () => service.watch(from === undefined || from === null ? null : Number(from), {
        write: (e) => call.write(eventToMessage(e)),
        onceDrain: (fn) => call.once('drain', fn),
        end: (err) => (err ? call.emit('error', toStatus(err)) : call.end()),
      } satisfies WatchSink, watchStallMs));
    },
    WatchPacketEvents: (call: grpc.ServerWritableStream<WatchPacketEventsRequest__Output, PacketEventMessage>) => {
      const r = call.request;
      serveStream(call, () => service.packetEvents.subscribe({
        rule_id: r.rule_id ?? undefined,
        action: r.action && r.action !== 'ACTION_TYPE_UNSPECIFIED' ? r.action : undefined,
        address: r.address ?? undefined,
      }, {
        write: (e) => call.write(dropNulls(e) as PacketEventMessage),
        full: () => call.writableLength > MAX_BACKLOG_MESSAGES, // grpc-js streams count messages
        lost: (n) => call.write({ lost: n }),
      }));
    },
    GetPacketEventConfig: unary(log, () => service.packetEvents.config()),
    // Unset fields stay unset, so that the schema names them as REST's would (sample's
    // counts are plain proto3 fields: unset is 0, none).
    SetPacketEventConfig: unary(log, (req) => service.packetEvents.setConfig(dropNulls({
      enabled: req.enabled,
      sample: req.sample ? { pass: req.sample.pass ?? 0, drop: req.sample.drop ?? 0, redirect: req.sample.redirect ?? 0 } : undefined,
      rate_per_cpu: req.rate_per_cpu,
      burst: req.burst,
    }))),
  } satisfies PcfControlHandlers);
  if (workerReport) {
    server.addService(decodeOrMark(pkg.pcf.v1.WorkerReport.service), {
      Report: unary(log, (req) => {
        service.workers.accept(reportFromMessage(req));
        return { received_at_unix_ms: Date.now() };
      }),
    } satisfies WorkerReportHandlers);
  }
  return server;
}

/** Binds `host:port` or `unix:/path`; resolves the port bound (0 for a Unix socket). */
export function bindGrpc(server: grpc.Server, address: string, creds = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, bound) => (err ? reject(err) : resolve(bound)));
  });
}

/** Graceful first, then forced after `ms`. */
export function shutdownGrpc(server: grpc.Server, ms = 2000): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, ms);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
