// validate.ts - what openapi.yaml cannot say about a rule, for REST, gRPC and callers of the
// service alike, and the rule normalized into the service's FlowSpec (proto names to numbers,
// 0 and absent to null). openapi.yaml is the one schema of every field's type, range and
// format (schema.ts): a body not checked against it yet (a test or a benchmark calling the
// service) is checked here first; REST's middleware and grpc.ts mark the bodies they checked,
// so the schema runs once per rule. What only this file says: one form of match (key, match
// or flow_description); ports only with a protocol that has them; a prefix's host bits and
// one family per match; NAT of the match's family and protocol; the fields only REDIRECT may
// carry; queue_id below the interface's RX queues; a precedence for a match wider than one
// exact IPv4 5-tuple; a flow description that reads as one match.
import { quote, ValidationError, type FieldError } from './errors.js';
import { FlowDescriptionError, parseFlowDescription, type FlowDirection, type MatchSpec } from './flowdesc.js';
import type { components } from './generated/openapi.js';
import {
  addressBytes, formatAddress, keyOfMatch, matchOfKey, parsePorts, parsePrefix, PORT_PROTOCOLS, PROTO_NAMES,
  type Match, type PortRange, type Prefix,
} from './match.js';
import { PROTO_NUMBERS, type ActionType, type FlowAction, type FlowKey, type FlowSpec, type Nat } from './model.js';
import { isSchemaChecked, schemaErrors } from './schema.js';

type Schemas = components['schemas'];
/** A rule as openapi.yaml's FlowSpec admits it (what checkFlowMeaning takes). */
export type FlowSpecBody = Schemas['FlowSpec'];
type MatchBody = Schemas['Match'];
type ActionBody = Schemas['FlowAction'];

/** What the datapath can do right now; unknown while it is absent. */
export interface DatapathLimits {
  rxQueues: number | null;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** An IANA number (6, 17, 1) or name (tcp, udp, icmp) of the exact table; undefined otherwise. */
export function parseProto(v: unknown): number | undefined {
  if (typeof v === 'string') return PROTO_NUMBERS[v.toLowerCase()];
  if (v === 1 || v === 6 || v === 17) return v;
  return undefined;
}

class Checker {
  errors: FieldError[] = [];
  constructor(private prefix: string) {}
  fail(field: string, message: string): void {
    this.errors.push({ field: this.prefix + field, message });
  }
}

// ---- the match -----------------------------------------------------------------------------

function checkPrefix(c: Checker, field: string, v: string | undefined): Prefix | null {
  if (v === undefined || v === null) return null;
  const p = parsePrefix(v);
  if (typeof p !== 'string') return p;
  c.fail(field, `${quote(v)}: ${p}`);
  return null;
}

function checkPortRange(c: Checker, field: string, v: number | string | undefined): PortRange | null {
  if (v === undefined || v === null) return null;
  const r = parsePorts(v);
  if (typeof r !== 'string') return r;
  c.fail(field, r);
  return null;
}

/** A match: prefixes of one family, port ranges only with a protocol that has ports. */
function checkMatch(c: Checker, m: MatchBody | MatchSpec): Match {
  const src = checkPrefix(c, 'match.src', m.src);
  const dst = checkPrefix(c, 'match.dst', m.dst);
  if (src && dst && src.family !== dst.family)
    c.fail('match.dst', `an IPv${dst.family} prefix with an IPv${src.family} source: one match is one family (give two rules)`);
  const family = src?.family ?? dst?.family ?? null;
  const proto = m.proto === undefined || m.proto === null ? null : typeof m.proto === 'string' ? PROTO_NAMES[m.proto.toLowerCase()] : m.proto;
  const src_ports = checkPortRange(c, 'match.src_ports', m.src_ports);
  const dst_ports = checkPortRange(c, 'match.dst_ports', m.dst_ports);
  if ((src_ports || dst_ports) && (proto === null || !PORT_PROTOCOLS.has(proto))) {
    const why = `ports need one protocol that has them (tcp, udp, sctp, udplite, dccp); this match has ${proto === null ? 'any protocol' : `protocol ${proto}`}`;
    if (src_ports) c.fail('match.src_ports', why);
    if (dst_ports) c.fail('match.dst_ports', why);
  }
  if (proto === 1 && family === 6) c.fail('match.proto', '1 is ICMP for IPv4; ICMPv6 is 58');
  if (proto === 58 && family === 4) c.fail('match.proto', '58 is ICMPv6; ICMP for IPv4 is 1');
  return { family, src, dst, src_ports, dst_ports, proto };
}

/** An exact 5-tuple: its key (proto as the number) and match; ICMP has no ports. */
function checkKey(c: Checker, k: Schemas['FlowKey']): { key: FlowKey; match: Match } {
  const proto = typeof k.proto === 'number' ? k.proto : PROTO_NUMBERS[k.proto];
  if (proto === 1) {
    if (k.src_port !== 0) c.fail('key.src_port', `must be 0 for ICMP (it has no ports), not ${k.src_port}`);
    if (k.dst_port !== 0) c.fail('key.dst_port', `must be 0 for ICMP (it has no ports), not ${k.dst_port}`);
  }
  const key: FlowKey = { src_ip: k.src_ip, dst_ip: k.dst_ip, src_port: k.src_port, dst_port: k.dst_port, proto };
  return { key, match: matchOfKey(key) };
}

// ---- the action ----------------------------------------------------------------------------

/** A NAT address of the match's family: IPv4 for IPv4 rules, IPv6 (normalized) for IPv6 ones. */
function natAddress(c: Checker, f: 'snat_ip' | 'dnat_ip', v: string | null | undefined, match: Match): string | null {
  if (v === undefined || v === null) return null;
  const field = `action.nat.${f}`;
  if (match.family === 6) {
    const a = addressBytes(v);
    if (!a || a.family !== 6) c.fail(field, `${quote(v)} is not an IPv6 address (this match is IPv6)`);
    else if (a.bytes.every((b) => b === 0)) c.fail(field, ':: cannot be a NAT address');
    else return formatAddress(6, a.bytes);
    return null;
  }
  if (!IPV4.test(v)) c.fail(field, `${quote(v)} is not a dotted IPv4 address${match.family === 4 ? ' (this match is IPv4)' : ''}`);
  else if (v === '0.0.0.0') c.fail(field, '0.0.0.0 cannot be a NAT address');
  return v;
}

function checkNat(c: Checker, raw: ActionBody['nat'], type: ActionType, match: Match): Nat | null {
  if (raw === undefined || raw === null) return null;
  const nat: Nat = {
    snat_ip: natAddress(c, 'snat_ip', raw.snat_ip, match),
    snat_port: raw.snat_port ?? null,
    dnat_ip: natAddress(c, 'dnat_ip', raw.dnat_ip, match),
    dnat_port: raw.dnat_port ?? null,
  };
  for (const f of ['snat_port', 'dnat_port'] as const) {
    if (nat[f] === null) continue;
    if (match.proto === 1) c.fail(`action.nat.${f}`, 'ICMP has no ports to translate');
    else if (match.proto !== 6 && match.proto !== 17) c.fail(`action.nat.${f}`, 'the worker translates the ports of TCP and UDP only: the match must name tcp or udp');
  }
  const addresses = (raw.snat_ip ?? null) !== null || (raw.dnat_ip ?? null) !== null;
  if (!addresses && nat.snat_port === null && nat.dnat_port === null) return null;
  if (addresses && match.family === null) c.fail('action.nat', 'an address to translate needs a match of one family (give src or dst)');
  // UDP-Lite's and DCCP's checksums cover the addresses too, and the worker does not update them.
  if (addresses && (match.proto === null || match.proto === 33 || match.proto === 136))
    c.fail('action.nat', `translating addresses needs one protocol whose checksums the worker updates (tcp, udp, icmp, icmpv6, sctp, ...); this match has ${match.proto === null ? 'any protocol' : `protocol ${match.proto}`}`);
  if (type !== 'REDIRECT') c.fail('action.nat', `only REDIRECT rules can be translated (the worker applies NAT); this rule is ${type}`);
  return nat;
}

function checkAction(c: Checker, a: ActionBody, match: Match, limits: DatapathLimits): FlowAction {
  const type = a.type;
  const ttl = a.ttl_delta || null; // 0: unchanged
  if (ttl !== null && type !== 'REDIRECT') c.fail('action.ttl_delta', `only REDIRECT rules can change the TTL (the worker applies it); this rule is ${type}`);
  const mark = a.mark ?? null;
  if (mark !== null && type === 'DROP') c.fail('action.mark', 'a DROP rule has no packets to mark');
  const queue = a.queue_id ?? null;
  if (queue !== null) {
    if (type !== 'REDIRECT') c.fail('action.queue_id', `only REDIRECT rules go to a queue; this rule is ${type}`);
    else if (limits.rxQueues !== null && queue >= limits.rxQueues)
      c.fail('action.queue_id', `the interface has ${limits.rxQueues} RX queue(s) (0..${limits.rxQueues - 1}); an AF_XDP socket only sees its own queue, so queue ${queue} can never receive this flow`);
  }
  const mirror = a.mirror === true;
  if (mirror && type !== 'REDIRECT') c.fail('action.mirror', `only REDIRECT rules reach the worker that mirrors; this rule is ${type}`);
  const nat = checkNat(c, a.nat, type, match);
  return { type, ttl_delta: ttl, nat, mark, queue_id: queue, mirror };
}

// ---- the rule ------------------------------------------------------------------------------

const NO_MATCH = {} as Match;

/**
 * The meaning of a rule openapi.yaml's FlowSpec admits, normalized, or its field errors, each
 * prefixed (e.g. "flows[3]."). Does not run the schema: for a body it did not check, call
 * checkFlowSpec.
 */
export function checkFlowMeaning(b: FlowSpecBody, limits: DatapathLimits, prefix = ''): { spec: FlowSpec; errors: FieldError[] } {
  const c = new Checker(prefix);
  let match: Match = NO_MATCH;
  let key: FlowKey | null = null;
  let source: FlowSpec['source'] = null;
  const hasKey = b.key !== undefined && b.key !== null;
  const hasMatch = b.match !== undefined && b.match !== null;
  const hasText = b.flow_description !== undefined && b.flow_description !== null;
  if (+hasKey + +hasMatch + +hasText > 1) {
    const forms = [hasKey && 'key', hasMatch && 'match', hasText && 'flow_description'].filter(Boolean) as string[];
    c.fail(forms[1], `give one of key (one exact 5-tuple), match or flow_description; this rule has ${forms.join(' and ')}`);
  } else if (hasKey) {
    ({ key, match } = checkKey(c, b.key!));
  } else if (hasMatch) {
    match = checkMatch(c, b.match!);
    if (!c.errors.length) key = keyOfMatch(match);
  } else if (hasText) {
    const direction = b.flow_direction ?? 'UNSPECIFIED';
    const m = descriptionMatches(c, b.flow_description!, direction, b.ue_ip, 'flow_description');
    if (m && m.length !== 1)
      c.fail('flow_direction', `this flow description becomes ${m.length} matches (${quote(direction)} reads it both ways); one rule is one match: say DOWNLINK or UPLINK, or put it in a PCC rule (PUT /pcc-rules/{id})`);
    if (m?.length === 1) {
      // The match came from the text: its errors are the text's.
      const sub = new Checker('');
      match = checkMatch(sub, m[0]);
      for (const e of sub.errors) c.fail('flow_description', e.message);
    }
    source = { flow_description: b.flow_description!, flow_direction: direction };
    if (!c.errors.length) key = keyOfMatch(match);
  } else {
    c.fail('key', 'required: one of key (an exact IPv4 5-tuple), match or flow_description');
  }
  const precedence = b.precedence ?? null;
  if (precedence === null && !c.errors.length && !key)
    c.fail('precedence', 'required: a match wider than one exact IPv4 5-tuple ranks by its precedence (0..4294967295, the lower wins)');
  const action = checkAction(c, b.action, match, limits);
  return { spec: { match, key, precedence, action, owner: null, source }, errors: c.errors };
}

/**
 * Normalizes one rule or returns its field errors, each prefixed (e.g. "flows[3]."): the
 * schema (openapi.yaml FlowSpec) unless the body is marked checked (schema.ts
 * markSchemaChecked), then checkFlowMeaning.
 */
export function checkFlowSpec(raw: unknown, limits: DatapathLimits, prefix = ''): { spec: FlowSpec; errors: FieldError[] } {
  if (!isSchemaChecked(raw)) {
    const errors = schemaErrors('FlowSpec', raw, prefix.endsWith('.') ? prefix.slice(0, -1) : prefix);
    if (errors.length) return { spec: {} as FlowSpec, errors };
  }
  return checkFlowMeaning(raw as FlowSpecBody, limits, prefix);
}

/** checkFlowSpec, throwing a ValidationError for a rule with errors. */
export function validateFlowSpec(raw: unknown, limits: DatapathLimits): FlowSpec {
  const { spec, errors } = checkFlowSpec(raw, limits);
  if (errors.length) throw new ValidationError(errors);
  return spec;
}

/**
 * The matches of one 3GPP flow description (TS 29.212 §5.4.2) in its direction, or null with
 * the error recorded at `field` (the token at fault quoted, as flowdesc.ts words it). The
 * text, direction and UE address are as openapi.yaml admits them.
 */
export function descriptionMatches(c: { fail(field: string, message: string): void }, text: string, direction: FlowDirection | undefined, ueIp: string | null | undefined, field: string): MatchSpec[] | null {
  try {
    return parseFlowDescription(text, direction ?? 'UNSPECIFIED', ueIp ?? null);
  } catch (err) {
    if (!(err instanceof FlowDescriptionError)) throw err;
    c.fail(field, err.message);
    return null;
  }
}
