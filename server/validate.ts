// validate.ts - the meaning of a rule, checked once for REST and gRPC alike. The HTTP layer
// checks the shape against openapi.yaml first; this checks what the datapath can honour and
// normalizes (proto names to numbers, 0/absent to null).
import { quote, ValidationError, type FieldError } from './errors.js';
import { FLOW_DIRECTIONS, FlowDescriptionError, parseFlowDescription, type FlowDirection, type MatchSpec } from './flowdesc.js';
import {
  addressBytes, formatAddress, matchOfKey, keyOfMatch, parsePorts, parsePrefix, PORT_PROTOCOLS, PROTO_NAMES,
  type Match, type PortRange, type Prefix,
} from './match.js';
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
    if (!isIpv4(v)) this.fail(field, `${quote(v)} is not a dotted IPv4 address`);
    return v as string;
  }
  int(field: string, v: unknown, min: number, max: number): number {
    if (!isInt(v) || v < min || v > max) this.fail(field, `${quote(v)} is not an integer in ${min}..${max}`);
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
  if (proto === undefined) c.fail('key.proto', `${quote(raw.proto)} is not a supported protocol (6/tcp, 17/udp, 1/icmp)`);
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

const MAX_PRECEDENCE = 0xffffffff;

function checkPrefix(c: Checker, field: string, v: unknown): Prefix | null {
  if (absent(v)) return null;
  if (typeof v !== 'string') {
    c.fail(field, `${quote(v)} is not a prefix string ("198.18.1.0/24", "2001:2::/48", or one address)`);
    return null;
  }
  const p = parsePrefix(v);
  if (typeof p === 'string') {
    c.fail(field, `${quote(v)}: ${p}`);
    return null;
  }
  return p;
}

function checkPortRange(c: Checker, field: string, v: unknown): PortRange | null {
  if (absent(v)) return null;
  if (typeof v !== 'number' && typeof v !== 'string') {
    c.fail(field, `${quote(v)} is not a port or a range "lo-hi"`);
    return null;
  }
  const r = parsePorts(v);
  if (typeof r === 'string') {
    c.fail(field, r);
    return null;
  }
  return r;
}

function checkMatchProto(c: Checker, v: unknown): number | null {
  if (absent(v)) return null;
  if (typeof v === 'string' && PROTO_NAMES[v.toLowerCase()] !== undefined) return PROTO_NAMES[v.toLowerCase()];
  if (isInt(v) && v >= 0 && v <= 255) return v;
  c.fail('match.proto', `${quote(v)} is not a protocol: a number 0..255 or one of ${Object.keys(PROTO_NAMES).join(', ')}`);
  return null;
}

/** A match: prefixes of one family, port ranges only with a protocol that has ports. */
function checkMatch(c: Checker, raw: unknown): Match {
  if (!isObject(raw)) {
    c.fail('match', 'must be an object (src, dst, src_ports, dst_ports, proto; absent fields match anything)');
    return {} as Match;
  }
  const src = checkPrefix(c, 'match.src', raw.src);
  const dst = checkPrefix(c, 'match.dst', raw.dst);
  if (src && dst && src.family !== dst.family)
    c.fail('match.dst', `an IPv${dst.family} prefix with an IPv${src.family} source: one match is one family (give two rules)`);
  const family = src?.family ?? dst?.family ?? null;
  const proto = checkMatchProto(c, raw.proto);
  const src_ports = checkPortRange(c, 'match.src_ports', raw.src_ports);
  const dst_ports = checkPortRange(c, 'match.dst_ports', raw.dst_ports);
  for (const [f, r] of [['match.src_ports', src_ports], ['match.dst_ports', dst_ports]] as const) {
    if (r && (proto === null || !PORT_PROTOCOLS.has(proto)))
      c.fail(f, `ports need one protocol that has them (tcp, udp, sctp, udplite, dccp); this match has ${proto === null ? 'any protocol' : `protocol ${proto}`}`);
  }
  if (proto === 1 && family === 6) c.fail('match.proto', '1 is ICMP for IPv4; ICMPv6 is 58');
  if (proto === 58 && family === 4) c.fail('match.proto', '58 is ICMPv6; ICMP for IPv4 is 1');
  return { family, src, dst, src_ports, dst_ports, proto };
}

function checkNat(c: Checker, raw: unknown, type: ActionType, match: Match): Nat | null {
  if (absent(raw)) return null;
  if (!isObject(raw)) {
    c.fail('action.nat', 'must be an object or null');
    return null;
  }
  const nat: Nat = { snat_ip: null, snat_port: null, dnat_ip: null, dnat_port: null };
  for (const f of ['snat_ip', 'dnat_ip'] as const) {
    if (absent(raw[f])) continue;
    // The address of the match's family: IPv4 for IPv4 rules, IPv6 for IPv6 ones.
    const v = raw[f];
    const a = typeof v === 'string' ? addressBytes(v) : null;
    if (match.family === 6) {
      if (!a || a.family !== 6) c.fail(`action.nat.${f}`, `${quote(v)} is not an IPv6 address (this match is IPv6)`);
      else if (a.bytes.every((b) => b === 0)) c.fail(`action.nat.${f}`, ':: cannot be a NAT address');
      else nat[f] = formatAddress(6, a.bytes);
      continue;
    }
    nat[f] = c.ip(`action.nat.${f}`, v);
    if (v === '0.0.0.0') c.fail(`action.nat.${f}`, '0.0.0.0 cannot be a NAT address');
  }
  for (const f of ['snat_port', 'dnat_port'] as const) {
    if (absent(raw[f])) continue;
    nat[f] = c.int(`action.nat.${f}`, raw[f], 1, 65535);
    if (match.proto === 1) c.fail(`action.nat.${f}`, 'ICMP has no ports to translate');
    else if (match.proto !== 6 && match.proto !== 17) c.fail(`action.nat.${f}`, 'the worker translates the ports of TCP and UDP only: the match must name tcp or udp');
  }
  if (Object.values(nat).every((v) => v === null)) return null;
  if (match.family === null && (nat.snat_ip !== null || nat.dnat_ip !== null))
    c.fail('action.nat', 'an address to translate needs a match of one family (give src or dst)');
  // UDP-Lite's and DCCP's checksums cover the addresses too, and the worker does not update them.
  if ((nat.snat_ip !== null || nat.dnat_ip !== null) && (match.proto === null || match.proto === 33 || match.proto === 136))
    c.fail('action.nat', `translating addresses needs one protocol whose checksums the worker updates (tcp, udp, icmp, icmpv6, sctp, ...); this match has ${match.proto === null ? 'any protocol' : `protocol ${match.proto}`}`);
  if (type !== 'REDIRECT') c.fail('action.nat', `only REDIRECT rules can be translated (the worker applies NAT); this rule is ${type}`);
  return nat;
}

function checkAction(c: Checker, raw: unknown, match: Match, limits: DatapathLimits): FlowAction {
  if (!isObject(raw)) {
    c.fail('action', 'required, an object with at least type');
    return {} as FlowAction;
  }
  const type = raw.type as ActionType;
  if (!ACTION_TYPES.includes(type)) {
    c.fail('action.type', `${quote(raw.type)} is not one of ${ACTION_TYPES.join(', ')}`);
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
    if (typeof raw.mirror !== 'boolean') c.fail('action.mirror', `${quote(raw.mirror)} is not true or false`);
    mirror = raw.mirror === true;
    if (mirror && type !== 'REDIRECT') c.fail('action.mirror', `only REDIRECT rules reach the worker that mirrors; this rule is ${type}`);
  }
  const nat = checkNat(c, raw.nat, type, match);
  return { type, ttl_delta: ttl, nat, mark, queue_id: queue, mirror };
}

/** Normalizes one rule or returns its field errors, each prefixed (e.g. "flows[3]."). */
export function checkFlowSpec(raw: unknown, limits: DatapathLimits, prefix = ''): { spec: FlowSpec; errors: FieldError[] } {
  const c = new Checker(prefix);
  if (!isObject(raw)) {
    c.fail(prefix ? prefix.replace(/\.$/, '') : 'body', 'must be an object with key (or match) and action');
    return { spec: {} as FlowSpec, errors: c.errors };
  }
  let match: Match;
  let source: FlowSpec['source'] = null;
  const forms = ['key', 'match', 'flow_description'].filter((f) => !absent(raw[f]));
  if (forms.length > 1) {
    c.fail(forms[1], `give one of key (one exact 5-tuple), match or flow_description; this rule has ${forms.join(' and ')}`);
    match = {} as Match;
  } else if (!absent(raw.flow_description)) {
    const m = descriptionMatches(c, raw.flow_description, raw.flow_direction, raw.ue_ip, 'flow_description');
    if (m && m.length !== 1)
      c.fail('flow_direction', `this flow description becomes ${m.length} matches (${quote(raw.flow_direction ?? 'UNSPECIFIED')} reads it both ways); one rule is one match: say DOWNLINK or UPLINK, or put it in a PCC rule (PUT /pcc-rules/{id})`);
    const sub = new Checker('');
    match = m?.length === 1 ? checkMatch(sub, m[0]) : ({} as Match);
    for (const e of sub.errors) c.fail('flow_description', e.message);
    source = { flow_description: String(raw.flow_description), flow_direction: String(raw.flow_direction ?? 'UNSPECIFIED') };
  } else if (!absent(raw.match)) {
    match = checkMatch(c, raw.match);
  } else {
    const key = checkKey(c, raw.key);
    match = c.errors.length ? ({} as Match) : matchOfKey(key);
  }
  let precedence: number | null = null;
  if (!absent(raw.precedence)) precedence = c.int('precedence', raw.precedence, 0, MAX_PRECEDENCE);
  const key = c.errors.length ? null : keyOfMatch(match);
  if (precedence === null && !c.errors.length && !key)
    c.fail('precedence', 'required: a match wider than one exact IPv4 5-tuple ranks by its precedence (0..4294967295, the lower wins)');
  const action = checkAction(c, raw.action, match, limits);
  return { spec: { match, key, precedence, action, owner: null, source }, errors: c.errors };
}

/**
 * The matches of one 3GPP flow description (TS 29.212 §5.4.2) in its direction, or null with
 * the error recorded at `field` (the token at fault quoted, as flowdesc.ts words it).
 */
export function descriptionMatches(c: { fail(field: string, message: string): void }, text: unknown, direction: unknown, ueIp: unknown, field: string, directionField = 'flow_direction'): MatchSpec[] | null {
  if (typeof text !== 'string') {
    c.fail(field, `${quote(text)} is not a flow description ("permit out 17 from 198.18.1.0/24 to assigned 5000")`);
    return null;
  }
  const dir = (direction ?? 'UNSPECIFIED') as FlowDirection;
  if (!FLOW_DIRECTIONS.includes(dir)) {
    c.fail(directionField, `${quote(direction)} is not one of ${FLOW_DIRECTIONS.join(', ')}`);
    return null;
  }
  if (!absent(ueIp) && typeof ueIp !== 'string') {
    c.fail('ue_ip', `${quote(ueIp)} is not an address`);
    return null;
  }
  try {
    return parseFlowDescription(text, dir, (ueIp as string | null | undefined) ?? null);
  } catch (err) {
    if (!(err instanceof FlowDescriptionError)) throw err;
    c.fail(field, err.message);
    return null;
  }
}

export function validateFlowSpec(raw: unknown, limits: DatapathLimits): FlowSpec {
  const { spec, errors } = checkFlowSpec(raw, limits);
  if (errors.length) throw new ValidationError(errors);
  return spec;
}
