// flowdesc.ts - 3GPP flow descriptions (TS 29.212 §5.4.2: an RFC 6733 IPFilterRule restricted to
// "permit out <proto> from <src> [<ports>] to <dst> [<ports>]", as carried by TS 29.512
// FlowInformation.flowDescription) parsed into classifier matches, and a match rendered back.
//
// The text reads in the downlink sense: `from` the remote side `to` the UE. The flow direction
// decides which matches a filter becomes: DOWNLINK as written, UPLINK with source and
// destination (addresses and ports) swapped, BIDIRECTIONAL and UNSPECIFIED both, downlink first.
//
// Accepted beyond the letter of 29.212 (which wants `any` only as the source, `assigned` only as
// the destination and one port or range per side): `any` and `assigned` on either side, and
// RFC 6733's comma lists of ports (each list item becomes its own match, src-major).
// Refused, each with an error naming the token: any action but `permit`, any direction but
// `out`, protocol names (29.212 wants the decimal number; the error gives it), `!`, options.
import { addressBytes, formatAddress, parsePrefix as parsePrefixText, PORT_PROTOCOLS, prefixText, type Prefix } from './match.js';
import { quote } from './errors.js';

export { PORT_PROTOCOLS };

export type FlowDirection = 'DOWNLINK' | 'UPLINK' | 'BIDIRECTIONAL' | 'UNSPECIFIED';
export const FLOW_DIRECTIONS: readonly FlowDirection[] = ['DOWNLINK', 'UPLINK', 'BIDIRECTIONAL', 'UNSPECIFIED'];

/** One classifier match in the REST shape of the API: absent field = any. */
export interface MatchSpec {
  src?: string;        // a prefix "198.18.1.0/24" or "2001:2::/48"; always with /len, normalized (lowercase, compressed IPv6)
  dst?: string;
  src_ports?: number | string;   // one port (number) or an inclusive range "1000-2000"
  dst_ports?: number | string;
  proto?: number;      // IANA number; absent for `ip`
}

/** At most this many matches per filter (source port items × destination port items), before
 *  the direction doubles them. */
export const MAX_MATCHES_PER_FILTER = 8;

/** The text is not a flow description this datapath can honour. `token` is the raw text at
 *  fault (a port list item for an item's error, '' at the end of the text); the message quotes
 *  it and says what is wrong, without the field name (the caller prefixes that). */
export class FlowDescriptionError extends Error {
  constructor(readonly token: string, message: string) {
    super(message);
    this.name = 'FlowDescriptionError';
  }
}

const SPEC = 'TS 29.212 §5.4.2';
const OPTIONS = new Set(['frag', 'ipoptions', 'tcpoptions', 'established', 'setup', 'tcpflags', 'icmptypes']);
/** Only for the hint in the error when a protocol is given by name. */
const PROTO_HINTS: Record<string, number> = {
  icmp: 1, igmp: 2, tcp: 6, udp: 17, dccp: 33, gre: 47, esp: 50, ah: 51, icmpv6: 58, 'ipv6-icmp': 58,
  sctp: 132, udplite: 136,
};

const q = quote;
const fail = (token: string, what: string): never => {
  throw new FlowDescriptionError(token, `${q(token)}: ${what}`);
};

// ---- addresses --------------------------------------------------------------------------

const familyName = (f: 4 | 6) => `IPv${f}`;

/** `address` or `address/len`; the host bits under the length must be zero. */
function parsePrefix(token: string, role: string): Prefix {
  const p = parsePrefixText(token);
  if (typeof p !== 'string') return p;
  return fail(token, p.startsWith('not an') ? expectedAddress(role) : p);
}

const expectedAddress = (role: string) =>
  `expected the ${role} address ("any", "assigned", or an IPv4/IPv6 address with an optional /len)`;

/** The UE address as a host prefix, for `assigned`. */
function uePrefix(token: string, ueIp: string | null | undefined): Prefix {
  if (ueIp === undefined || ueIp === null || ueIp === '') {
    return fail(token, 'no UE address is known to replace "assigned"');
  }
  const addr = addressBytes(ueIp);
  if (!addr) return fail(token, `the UE address ${q(ueIp)} is not an IPv4 or IPv6 address (without a prefix)`);
  return { ...addr, len: addr.family === 4 ? 32 : 128 };
}

interface Side {
  token: string;
  prefix: Prefix | null;   // null = any
}

function parseAddress(token: string, role: string, ueIp: string | null | undefined): Side {
  const word = token.toLowerCase();
  if (word === 'any') return { token, prefix: null };
  if (word === 'assigned') return { token, prefix: uePrefix(token, ueIp) };
  if (token.startsWith('!')) return fail(token, `negated addresses ("!") are not supported (${SPEC})`);
  return { token, prefix: parsePrefix(token, role) };
}

// ---- ports ------------------------------------------------------------------------------

type Ports = number | string;

function parsePortNumber(item: string, text: string): number {
  const n = Number(text);
  if (n > 65535) return fail(item, 'port over 65535');
  return n;
}

/** `p`, `lo-hi`, or a comma list of them; one entry per item, lo == hi as a number. */
function parsePorts(token: string): Ports[] {
  const items = token.split(',');
  if (items.some((i) => i === '')) return fail(token, 'empty item in the port list');
  return items.map((item) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (!m) return fail(item, 'not a port or port range (expected p, lo-hi, or a comma list of them)');
    const lo = parsePortNumber(item, m[1]);
    if (m[2] === undefined) return lo;
    const hi = parsePortNumber(item, m[2]);
    if (lo > hi) return fail(item, 'reversed port range');
    return lo === hi ? lo : `${lo}-${hi}`;
  });
}

const looksLikePorts = (token: string) => /^[\d,-]/.test(token);

// ---- the filter -------------------------------------------------------------------------

function parseProto(token: string): number | undefined {
  if (token.toLowerCase() === 'ip') return undefined;
  if (!/^\d+$/.test(token)) {
    const hint = PROTO_HINTS[token.toLowerCase()];
    const also = hint === undefined ? '' : `; ${token.toLowerCase()} is ${hint}`;
    return fail(token, `the protocol must be a decimal number 0..255 or "ip" (${SPEC})${also}`);
  }
  const n = Number(token);
  if (n > 255) return fail(token, 'protocol number over 255');
  return n;
}

/** The matches one filter becomes, in order. ueIp is the UE address that replaces `assigned`
 *  (IPv4 or IPv6, no prefix). Throws FlowDescriptionError. */
export function parseFlowDescription(text: string, direction: FlowDirection, ueIp?: string | null): MatchSpec[] {
  if (!FLOW_DIRECTIONS.includes(direction)) throw new TypeError(`unknown flow direction ${q(String(direction))}`);
  if (typeof text !== 'string') throw new FlowDescriptionError('', `expected a string, not ${typeof text}`);
  const tokens = text.split(/[ \t]+/).filter((t) => t !== '');
  let at = 0;
  /** The next token, or an error saying what was expected there. */
  const next = (expected: string): string => {
    if (at < tokens.length) return tokens[at++];
    const where = at === 0 ? 'empty flow description' : `end of text after ${q(tokens[at - 1])}`;
    throw new FlowDescriptionError('', `${where}: ${expected}`);
  };
  const keyword = (word: string, expected: string): void => {
    const t = next(expected);
    if (t.toLowerCase() !== word) fail(t, expected);
  };

  const action = next('expected "permit"');
  if (action.toLowerCase() !== 'permit') fail(action, `only "permit" is allowed (${SPEC})`);
  const dir = next('expected "out" after "permit"');
  if (dir.toLowerCase() !== 'out') fail(dir, `only "out" is allowed (${SPEC})`);
  const proto = parseProto(next('expected the protocol (a decimal number 0..255 or "ip") after "out"'));
  keyword('from', 'expected "from" after the protocol');
  const src = parseAddress(next(expectedAddress('source') + ' after "from"'), 'source', ueIp);

  const portsFor = (token: string): Ports[] => {
    if (proto === undefined || !PORT_PROTOCOLS.has(proto)) {
      fail(token, `ports need a protocol with ports (tcp, udp, sctp, udplite, dccp), not ${proto ?? 'ip'}`);
    }
    return parsePorts(token);
  };

  let srcPorts: Ports[] | null = null;
  let t = next('expected "to" after the source');
  if (t.toLowerCase() !== 'to' && looksLikePorts(t)) {
    srcPorts = portsFor(t);
    if (srcPorts.length > MAX_MATCHES_PER_FILTER) {
      fail(t, `${srcPorts.length} source port items, at most ${MAX_MATCHES_PER_FILTER} matches per flow description`);
    }
    t = next('expected "to" after the source ports');
    if (t.toLowerCase() !== 'to') fail(t, 'expected "to" after the source ports');
  } else if (t.toLowerCase() !== 'to') {
    fail(t, 'expected "to" after the source');
  }

  const dst = parseAddress(next(expectedAddress('destination') + ' after "to"'), 'destination', ueIp);
  if (src.prefix && dst.prefix && src.prefix.family !== dst.prefix.family) {
    const ue = (s: Side) => (s.token.toLowerCase() === 'assigned' ? `the UE address ${formatAddress(s.prefix!.family, s.prefix!.bytes)}` : '');
    const dstNote = ue(dst) ? ` (${ue(dst)})` : '';
    const srcNote = ue(src) ? ` (${q(src.token)}, ${ue(src)})` : ` (${q(src.token)})`;
    fail(dst.token, `an ${familyName(dst.prefix.family)} destination${dstNote} with an ` +
      `${familyName(src.prefix.family)} source${srcNote}: one filter has one address family`);
  }

  let dstPorts: Ports[] | null = null;
  if (at < tokens.length && looksLikePorts(tokens[at])) {
    const token = tokens[at++];
    dstPorts = portsFor(token);
    const n = (srcPorts?.length ?? 1) * dstPorts.length;
    if (n > MAX_MATCHES_PER_FILTER) {
      fail(token, `${srcPorts?.length ?? 1} source × ${dstPorts.length} destination port items make ${n} matches, ` +
        `at most ${MAX_MATCHES_PER_FILTER} per flow description`);
    }
  }
  if (at < tokens.length) {
    const extra = tokens[at];
    if (OPTIONS.has(extra.toLowerCase())) fail(extra, `IPFilterRule options are not supported (${SPEC})`);
    fail(extra, 'unexpected after the destination (a flow description ends with the destination and its ports)');
  }

  const down: MatchSpec[] = [];
  for (const sp of srcPorts ?? [undefined]) {
    for (const dp of dstPorts ?? [undefined]) {
      down.push(match(src.prefix, dst.prefix, sp, dp, proto));
    }
  }
  if (direction === 'DOWNLINK') return down;
  const up = down.map(reverse);
  return direction === 'UPLINK' ? up : [...down, ...up];
}

/** A match without the absent fields (so that deepEqual against a literal holds). */
function match(src: Prefix | null, dst: Prefix | null, sp: Ports | undefined, dp: Ports | undefined,
  proto: number | undefined): MatchSpec {
  const m: MatchSpec = {};
  if (src) m.src = prefixText(src);
  if (dst) m.dst = prefixText(dst);
  if (sp !== undefined) m.src_ports = sp;
  if (dp !== undefined) m.dst_ports = dp;
  if (proto !== undefined) m.proto = proto;
  return m;
}

/** The same flow seen the other way: source and destination (addresses and ports) swapped. */
function reverse(m: MatchSpec): MatchSpec {
  const r: MatchSpec = {};
  if (m.dst !== undefined) r.src = m.dst;
  if (m.src !== undefined) r.dst = m.src;
  if (m.dst_ports !== undefined) r.src_ports = m.dst_ports;
  if (m.src_ports !== undefined) r.dst_ports = m.src_ports;
  if (m.proto !== undefined) r.proto = m.proto;
  return r;
}

/** A downlink match as flow-description text: `ip` for no proto, `any` for no address, a host
 *  prefix without its /len, and `assigned` for the UE's own host prefix when ueIp is given.
 *  parseFlowDescription(formatFlowDescription(m, ue), 'DOWNLINK', ue) gives back [m] for any
 *  normalized m; an m that parse would refuse gives text that parse refuses. */
export function formatFlowDescription(m: MatchSpec, ueIp?: string | null): string {
  const ue = ueIp ? uePrefix('assigned', ueIp) : null;
  const ueText = ue ? prefixText(ue) : null;
  const addr = (p: string | undefined) => {
    if (p === undefined) return 'any';
    if (p === ueText) return 'assigned';
    const host = p.includes(':') ? '/128' : '/32';
    return p.endsWith(host) ? p.slice(0, -host.length) : p;
  };
  const ports = (p: Ports | undefined) => (p === undefined ? [] : [String(p)]);
  return [
    'permit', 'out', m.proto === undefined ? 'ip' : String(m.proto),
    'from', addr(m.src), ...ports(m.src_ports),
    'to', addr(m.dst), ...ports(m.dst_ports),
  ].join(' ');
}
