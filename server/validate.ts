// validate.ts - the meaning of a rule, checked once for REST and gRPC alike. The HTTP layer
// checks the shape against openapi.yaml first; this checks what the datapath can honour and
// normalizes (proto names to numbers, 0/absent to null).
import { ValidationError, type FieldError } from './errors.js';
import {
  ACTION_TYPES, MAX_QUEUES, PROTO_NUMBERS,
  type ActionType, type FlowAction, type FlowKey, type FlowSpec, type Nat,
} from './model.js';

/** What the datapath can do right now; unknown while it is absent. */
export interface DatapathLimits {
  rxQueues: number | null;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(s: unknown): s is string {
  return typeof s === 'string' && IPV4.test(s);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const absent = (v: unknown) => v === undefined || v === null;

class Checker {
  errors: FieldError[] = [];
  constructor(private prefix: string) {}
  fail(field: string, message: string): void {
    this.errors.push({ field: this.prefix + field, message });
  }
  ip(field: string, v: unknown): string {
    if (!isIpv4(v)) this.fail(field, `${JSON.stringify(v)} is not a dotted IPv4 address`);
    return v as string;
  }
  int(field: string, v: unknown, min: number, max: number): number {
    if (!isInt(v) || v < min || v > max) this.fail(field, `${JSON.stringify(v)} is not an integer in ${min}..${max}`);
    return v as number;
  }
}

export function parseProto(v: unknown): number | undefined {
  if (typeof v === 'string') return PROTO_NUMBERS[v.toLowerCase()];
  if (isInt(v) && Object.values(PROTO_NUMBERS).includes(v)) return v;
  return undefined;
}

function checkKey(c: Checker, raw: unknown): FlowKey {
  if (!isObject(raw)) {
    c.fail('key', 'required, an object with src_ip, dst_ip, src_port, dst_port, proto');
    return {} as FlowKey;
  }
  const proto = parseProto(raw.proto);
  if (proto === undefined) c.fail('key.proto', `${JSON.stringify(raw.proto)} is not a supported protocol (6/tcp, 17/udp, 1/icmp)`);
  const key: FlowKey = {
    src_ip: c.ip('key.src_ip', raw.src_ip),
    dst_ip: c.ip('key.dst_ip', raw.dst_ip),
    src_port: c.int('key.src_port', raw.src_port, 0, 65535),
    dst_port: c.int('key.dst_port', raw.dst_port, 0, 65535),
    proto: proto as number,
  };
  if (proto === 1) {
    if (key.src_port !== 0) c.fail('key.src_port', 'must be 0 for ICMP (it has no ports)');
    if (key.dst_port !== 0) c.fail('key.dst_port', 'must be 0 for ICMP (it has no ports)');
  }
  return key;
}

function checkNat(c: Checker, raw: unknown, type: ActionType, proto: number): Nat | null {
  if (absent(raw)) return null;
  if (!isObject(raw)) {
    c.fail('action.nat', 'must be an object or null');
    return null;
  }
  const nat: Nat = { snat_ip: null, snat_port: null, dnat_ip: null, dnat_port: null };
  for (const f of ['snat_ip', 'dnat_ip'] as const) {
    if (absent(raw[f])) continue;
    nat[f] = c.ip(`action.nat.${f}`, raw[f]);
    if (raw[f] === '0.0.0.0') c.fail(`action.nat.${f}`, '0.0.0.0 cannot be a NAT address');
  }
  for (const f of ['snat_port', 'dnat_port'] as const) {
    if (absent(raw[f])) continue;
    nat[f] = c.int(`action.nat.${f}`, raw[f], 1, 65535);
    if (proto === 1) c.fail(`action.nat.${f}`, 'ICMP has no ports to translate');
  }
  if (Object.values(nat).every((v) => v === null)) return null;
  if (type !== 'REDIRECT') c.fail('action.nat', `only REDIRECT rules can be translated (the worker applies NAT); this rule is ${type}`);
  return nat;
}

function checkAction(c: Checker, raw: unknown, key: FlowKey, limits: DatapathLimits): FlowAction {
  if (!isObject(raw)) {
    c.fail('action', 'required, an object with at least type');
    return {} as FlowAction;
  }
  const type = raw.type as ActionType;
  if (!ACTION_TYPES.includes(type)) {
    c.fail('action.type', `${JSON.stringify(raw.type)} is not one of ${ACTION_TYPES.join(', ')}`);
    return {} as FlowAction;
  }
  let ttl: number | null = null;
  if (!absent(raw.ttl_delta)) {
    ttl = c.int('action.ttl_delta', raw.ttl_delta, -128, 127) || null;
    if (ttl !== null && type !== 'REDIRECT') c.fail('action.ttl_delta', `only REDIRECT rules can change the TTL (the worker applies it); this rule is ${type}`);
  }
  let mark: number | null = null;
  if (!absent(raw.mark)) {
    mark = c.int('action.mark', raw.mark, 1, 0xffffffff);
    if (type === 'DROP') c.fail('action.mark', 'a DROP rule has no packets to mark');
  }
  let queue: number | null = null;
  if (!absent(raw.queue_id)) {
    queue = c.int('action.queue_id', raw.queue_id, 0, MAX_QUEUES - 1);
    if (type !== 'REDIRECT') c.fail('action.queue_id', `only REDIRECT rules go to a queue; this rule is ${type}`);
    else if (limits.rxQueues !== null && isInt(queue) && queue >= limits.rxQueues)
      c.fail('action.queue_id', `the interface has ${limits.rxQueues} RX queue(s) (0..${limits.rxQueues - 1}); an AF_XDP socket only sees its own queue, so queue ${queue} can never receive this flow`);
  }
  let mirror = false;
  if (!absent(raw.mirror)) {
    if (typeof raw.mirror !== 'boolean') c.fail('action.mirror', `${JSON.stringify(raw.mirror)} is not true or false`);
    mirror = raw.mirror === true;
    if (mirror && type !== 'REDIRECT') c.fail('action.mirror', `only REDIRECT rules reach the worker that mirrors; this rule is ${type}`);
  }
  const nat = checkNat(c, raw.nat, type, key.proto);
  return { type, ttl_delta: ttl, nat, mark, queue_id: queue, mirror };
}

/** Normalizes one rule or returns its field errors, each prefixed (e.g. "flows[3]."). */
export function checkFlowSpec(raw: unknown, limits: DatapathLimits, prefix = ''): { spec: FlowSpec; errors: FieldError[] } {
  const c = new Checker(prefix);
  if (!isObject(raw)) {
    c.fail(prefix ? prefix.replace(/\.$/, '') : 'body', 'must be an object with key and action');
    return { spec: {} as FlowSpec, errors: c.errors };
  }
  const key = checkKey(c, raw.key);
  const action = checkAction(c, raw.action, key, limits);
  return { spec: { key, action }, errors: c.errors };
}

export function validateFlowSpec(raw: unknown, limits: DatapathLimits): FlowSpec {
  const { spec, errors } = checkFlowSpec(raw, limits);
  if (errors.length) throw new ValidationError(errors);
  return spec;
}
