// packets.ts - whole Ethernet frames for tests that feed the datapath directly (build/pcf-testrun,
// raw sockets): UDP, TCP, ICMP echo and SCTP over IPv4 and IPv6, with VLAN tags, IPv4 fragments,
// IPv6 extension headers and IPv6 fragment headers. Every checksum is right: the IPv4 header
// checksum, TCP/UDP/ICMPv6 over the pseudo-header, ICMPv4 over its message, and SCTP's CRC32c.
// Pure TypeScript on Buffer, no dependencies; test/packets.test.ts checks it against scapy.
//
// Defaults: dst MAC 02:00:00:00:00:02, src MAC 02:00:00:00:00:01, TTL / hop limit 64, IPv4 id 0,
// no DF, TOS / traffic class 0, flow label 0, empty payload, no padding to 60 bytes.
// A fragment at a non-zero offset (frag / frag6 with offset8 > 0) carries the payload only, no
// L4 header; a first fragment (offset8 0, more) carries the L4 header and a checksum over the
// bytes it holds.

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_SCTP = 132;
/** IPv6 extension headers that `ext` can insert (8 bytes each), and the fragment header. */
export const IPV6_HOPOPTS = 0;
export const IPV6_ROUTING = 43;
export const IPV6_FRAGMENT = 44;
export const IPV6_DSTOPTS = 60;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

export interface EthOpts {
  dmac?: string;
  smac?: string;
  /** VLAN tags, outermost first: [TPID, VID] (0x8100 802.1Q, 0x88a8 802.1ad); PCP and DEI 0. */
  vlan?: Array<[tpid: number, vid: number]>;
}

export interface Ip4Opts extends EthOpts {
  src: string;
  dst: string;
  ttl?: number;
  tos?: number;
  df?: boolean;
  /** IPv4 fragment: offset in 8-byte units, More Fragments, and the IP id (default 0). */
  frag?: { offset8: number; more: boolean; id?: number };
}

export interface Ip6Opts extends EthOpts {
  src: string;
  dst: string;
  /** The hop limit. */
  ttl?: number;
  trafficClass?: number;
  flowLabel?: number;
  /** Extension headers in this order before L4 (or the fragment header): 0 hop-by-hop,
   * 43 routing (type 0, segments left 0), 60 destination options; 8 bytes each, PadN-filled. */
  ext?: number[];
  /** A fragment header after `ext`: offset in 8-byte units, M flag, identification (default 0). */
  frag6?: { offset8: number; more: boolean; id?: number };
}

export type Payload = Buffer | Uint8Array | string;

export interface PortOpts {
  sport: number;
  dport: number;
  payload?: Payload;
}

export interface TcpOpts extends PortOpts {
  /** TCP_* bits; default TCP_SYN. */
  flags?: number;
  seq?: number;
  ack?: number;
  window?: number;
}

export interface EchoOpts {
  /** Echo identifier and sequence number (default 0). */
  echoId?: number;
  seq?: number;
  /** An echo reply instead of a request. */
  reply?: boolean;
  payload?: Payload;
}

export interface SctpOpts extends PortOpts {
  /** Verification tag (default 0). The payload is the chunks, as given (default none). */
  vtag?: number;
}

// ---- addresses ------------------------------------------------------------------------

function mac(s: string): Buffer {
  const b = Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
  if (b.length !== 6 || !/^([0-9a-f]{1,2}:){5}[0-9a-f]{1,2}$/i.test(s)) throw new Error(`not a MAC address: ${s}`);
  return b;
}

export function ip4(s: string): Buffer {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`not an IPv4 address: ${s}`);
  return Buffer.from(parts.map(Number));
}

export function ip6(s: string): Buffer {
  const bad = () => new Error(`not an IPv6 address: ${s}`);
  const halves = s.split('::');
  if (halves.length > 2) throw bad();
  const groups = (h: string): number[] => {
    if (h === '') return [];
    return h.split(':').map((g) => {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) throw bad();
      return parseInt(g, 16);
    });
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) throw bad();
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const b = Buffer.alloc(16);
  all.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

// ---- checksums ------------------------------------------------------------------------

/** The Internet checksum (RFC 1071) of the buffers, one after the other. */
export function inetChecksum(...bufs: Uint8Array[]): number {
  const all = Buffer.concat(bufs);
  let sum = 0;
  for (let i = 0; i + 1 < all.length; i += 2) sum += (all[i] << 8) | all[i + 1];
  if (all.length % 2) sum += all[all.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32c (Castagnoli), as SCTP uses it (RFC 9260 appendix A). */
export function crc32c(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of buf) crc = CRC32C_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function pseudo4(src: Buffer, dst: Buffer, proto: number, len: number): Buffer {
  const p = Buffer.alloc(12);
  src.copy(p, 0);
  dst.copy(p, 4);
  p[9] = proto;
  p.writeUInt16BE(len, 10);
  return p;
}

function pseudo6(src: Buffer, dst: Buffer, proto: number, len: number): Buffer {
  const p = Buffer.alloc(40);
  src.copy(p, 0);
  dst.copy(p, 16);
  p.writeUInt32BE(len, 32);
  p[39] = proto;
  return p;
}

// ---- L4 -------------------------------------------------------------------------------

/** An L4 segment with its checksum field zero, and how to fill it in. */
interface Segment {
  proto: number;
  bytes: Buffer;
  csum: { at: number; kind: 'pseudo' | 'plain' | 'crc32c'; zeroIsFfff?: boolean };
}

function bytesOf(p: Payload | undefined): Buffer {
  if (p === undefined) return Buffer.alloc(0);
  return typeof p === 'string' ? Buffer.from(p) : Buffer.from(p);
}

function u16(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new Error(`${what} out of range: ${v}`);
  return v;
}

function udpSeg(o: PortOpts): Segment {
  const data = bytesOf(o.payload);
  const h = Buffer.alloc(8);
  h.writeUInt16BE(u16(o.sport, 'sport'), 0);
  h.writeUInt16BE(u16(o.dport, 'dport'), 2);
  h.writeUInt16BE(8 + data.length, 4);
  return { proto: IPPROTO_UDP, bytes: Buffer.concat([h, data]), csum: { at: 6, kind: 'pseudo', zeroIsFfff: true } };
}

function tcpSeg(o: TcpOpts): Segment {
  const data = bytesOf(o.payload);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(u16(o.sport, 'sport'), 0);
  h.writeUInt16BE(u16(o.dport, 'dport'), 2);
  h.writeUInt32BE((o.seq ?? 0) >>> 0, 4);
  h.writeUInt32BE((o.ack ?? 0) >>> 0, 8);
  h[12] = 5 << 4; // data offset: 20 bytes, no options
  h[13] = o.flags ?? TCP_SYN;
  h.writeUInt16BE(u16(o.window ?? 8192, 'window'), 14);
  return { proto: IPPROTO_TCP, bytes: Buffer.concat([h, data]), csum: { at: 16, kind: 'pseudo' } };
}

function echoSeg(o: EchoOpts, v6: boolean): Segment {
  const data = bytesOf(o.payload);
  const h = Buffer.alloc(8);
  h[0] = v6 ? (o.reply ? 129 : 128) : o.reply ? 0 : 8;
  h.writeUInt16BE(u16(o.echoId ?? 0, 'echoId'), 4);
  h.writeUInt16BE(u16(o.seq ?? 0, 'seq'), 6);
  return {
    proto: v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP,
    bytes: Buffer.concat([h, data]),
    csum: { at: 2, kind: v6 ? 'pseudo' : 'plain' },
  };
}

function sctpSeg(o: SctpOpts): Segment {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(u16(o.sport, 'sport'), 0);
  h.writeUInt16BE(u16(o.dport, 'dport'), 2);
  h.writeUInt32BE((o.vtag ?? 0) >>> 0, 4);
  return { proto: IPPROTO_SCTP, bytes: Buffer.concat([h, bytesOf(o.payload)]), csum: { at: 8, kind: 'crc32c' } };
}

/** Fills in the segment's checksum; pseudo is the pseudo-header for its length. */
function finish(seg: Segment, pseudo: (len: number) => Buffer): Buffer {
  const b = Buffer.from(seg.bytes);
  const { at, kind } = seg.csum;
  if (kind === 'crc32c') {
    b.writeUInt32LE(crc32c(b), at); // SCTP stores the CRC least significant byte first
  } else {
    let c = kind === 'pseudo' ? inetChecksum(pseudo(b.length), b) : inetChecksum(b);
    if (c === 0 && seg.csum.zeroIsFfff) c = 0xffff; // UDP: 0 means "no checksum"
    b.writeUInt16BE(c, at);
  }
  return b;
}

// ---- L2 / L3 --------------------------------------------------------------------------

function eth(o: EthOpts, ethertype: number): Buffer {
  const parts = [mac(o.dmac ?? '02:00:00:00:00:02'), mac(o.smac ?? '02:00:00:00:00:01')];
  for (const [tpid, vid] of o.vlan ?? []) {
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(u16(tpid, 'TPID'), 0);
    if (!Number.isInteger(vid) || vid < 0 || vid > 0xfff) throw new Error(`VID out of range: ${vid}`);
    tag.writeUInt16BE(vid, 2);
    parts.push(tag);
  }
  const et = Buffer.alloc(2);
  et.writeUInt16BE(ethertype, 0);
  parts.push(et);
  return Buffer.concat(parts);
}

function frame4(o: Ip4Opts, seg: Segment): Buffer {
  const src = ip4(o.src);
  const dst = ip4(o.dst);
  const later = (o.frag?.offset8 ?? 0) > 0;
  const body = later ? seg.bytes.subarray(headerLen(seg)) : finish(seg, (len) => pseudo4(src, dst, seg.proto, len));
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(u16(20 + body.length, 'IPv4 total length'), 2);
  h.writeUInt16BE(u16(o.frag?.id ?? 0, 'IPv4 id'), 4);
  const offset8 = o.frag?.offset8 ?? 0;
  if (!Number.isInteger(offset8) || offset8 < 0 || offset8 > 0x1fff) throw new Error(`fragment offset out of range: ${offset8}`);
  h.writeUInt16BE((o.df ? 0x4000 : 0) | (o.frag?.more ? 0x2000 : 0) | offset8, 6);
  h[8] = o.ttl ?? 64;
  h[9] = seg.proto;
  src.copy(h, 12);
  dst.copy(h, 16);
  h.writeUInt16BE(inetChecksum(h), 10);
  return Buffer.concat([eth(o, ETH_P_IP), h, body]);
}

/** The L4 header length of a segment (what a later fragment leaves out). */
function headerLen(seg: Segment): number {
  switch (seg.proto) {
    case IPPROTO_TCP:
      return 20;
    case IPPROTO_SCTP:
      return 12;
    default:
      return 8; // UDP, ICMP, ICMPv6
  }
}

function frame6(o: Ip6Opts, seg: Segment): Buffer {
  const src = ip6(o.src);
  const dst = ip6(o.dst);
  const later = (o.frag6?.offset8 ?? 0) > 0;
  const body = later ? seg.bytes.subarray(headerLen(seg)) : finish(seg, (len) => pseudo6(src, dst, seg.proto, len));
  // Each header names the one after it: ext[0] -> ext[1] -> ... -> fragment -> L4.
  const chain = [...(o.ext ?? []), ...(o.frag6 ? [IPV6_FRAGMENT] : [])];
  const hdrs = chain.map((type, i) => {
    const next = i + 1 < chain.length ? chain[i + 1] : seg.proto;
    const x = Buffer.alloc(8);
    x[0] = next;
    switch (type) {
      case IPV6_HOPOPTS:
      case IPV6_DSTOPTS:
        x[1] = 0; // 8 bytes
        x[2] = 1; // PadN of the 4 bytes left
        x[3] = 4;
        break;
      case IPV6_ROUTING:
        x[1] = 0; // 8 bytes; routing type 0, segments left 0, reserved
        break;
      case IPV6_FRAGMENT: {
        const f = o.frag6!;
        if (!Number.isInteger(f.offset8) || f.offset8 < 0 || f.offset8 > 0x1fff) throw new Error(`fragment offset out of range: ${f.offset8}`);
        x.writeUInt16BE((f.offset8 << 3) | (f.more ? 1 : 0), 2);
        x.writeUInt32BE((f.id ?? 0) >>> 0, 4);
        break;
      }
      default:
        throw new Error(`extension header ${type} not supported (0, 43, 60)`);
    }
    return x;
  });
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((6 << 28) | ((o.trafficClass ?? 0) << 20) | ((o.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  const payloadLen = hdrs.length * 8 + body.length;
  h.writeUInt16BE(u16(payloadLen, 'IPv6 payload length'), 4);
  h[6] = chain.length ? chain[0] : seg.proto;
  h[7] = o.ttl ?? 64;
  src.copy(h, 8);
  dst.copy(h, 24);
  return Buffer.concat([eth(o, ETH_P_IPV6), h, ...hdrs, body]);
}

// ---- the frames -----------------------------------------------------------------------

export const udp4 = (o: Ip4Opts & PortOpts): Buffer => frame4(o, udpSeg(o));
export const tcp4 = (o: Ip4Opts & TcpOpts): Buffer => frame4(o, tcpSeg(o));
export const icmp4 = (o: Ip4Opts & EchoOpts): Buffer => frame4(o, echoSeg(o, false));
export const sctp4 = (o: Ip4Opts & SctpOpts): Buffer => frame4(o, sctpSeg(o));
export const udp6 = (o: Ip6Opts & PortOpts): Buffer => frame6(o, udpSeg(o));
export const tcp6 = (o: Ip6Opts & TcpOpts): Buffer => frame6(o, tcpSeg(o));
export const icmp6 = (o: Ip6Opts & EchoOpts): Buffer => frame6(o, echoSeg(o, true));
export const sctp6 = (o: Ip6Opts & SctpOpts): Buffer => frame6(o, sctpSeg(o));

/** Lower-case hex without separators: the input format of build/pcf-testrun. */
export function hex(buf: Uint8Array): string {
  return Buffer.from(buf).toString('hex');
}
