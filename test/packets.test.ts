// packets.test.ts - test/lib/packets.ts against reference frames made once with scapy 2.5.0
// (Debian's python3-scapy; the script is in the comment at the end), byte for byte and field by
// field, checksums included. Pure: no root, no network.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  crc32c, hex, icmp4, icmp6, inetChecksum, ip6, sctp4, sctp6, tcp4, tcp6, udp4, udp6,
  IPV6_DSTOPTS, IPV6_HOPOPTS, IPV6_ROUTING, TCP_ACK, TCP_SYN,
} from './lib/packets.js';

const C4 = '198.18.0.1';
const S4 = '198.18.1.1';
const C6 = '2001:2::1';
const S6 = '2001:2:0:1::1';

const REF: Record<string, string> = {
  udp4: '020000000002020000000001080045000021000000004011eda5c6120001c612010103e807d0000d232368656c6c6f',
  tcp4_qinq: '02000000000202000000000188a80064810000c8080045000028000000004006eda9c6120001c612010103e90050000000000000000050022000fe820000',
  icmp4: '02000000000202000000000108004500002000000000050128b7c6120001c6120101080006fa1234000170696e67',
  udp4_frag_first: '02000000000202000000000108004500002c004d20004011cd4dc6120001c612010103e807d0001837a830313233343536373839616263646566',
  udp4_frag_later: '02000000000202000000000108004500001c004d00034011ed5ac6120001c61201016162636465666768',
  sctp4: '020000000002020000000001080045000024000000004084ed2fc6120001c612010113881770deadbeef15955ae601000004',
  udp6: '02000000000202000000000186dd60000000000e1140200100020000000000000000000000012001000200000001000000000000000103e807d0000e700968656c6c6f36',
  tcp6_ext: '02000000000202000000000186dd60000000002c004020010002000000000000000000000001200100020000000100000000000000012b000104000000003c00000000000000060001040000000003e901bb0000000100000002501220004a230000',
  icmp6: '02000000000202000000000186dd6000000000093a4020010002000000000000000000000001200100020000000100000000000000018000c7a20007000978',
  icmp6_reply: '02000000000202000000000186dd6000000000093a4020010002000000010000000000000001200100020000000000000000000000018100c6a20007000978',
  udp6_frag_first: '02000000000202000000000186dd6000000000202c402001000200000000000000000000000120010002000000010000000000000001110000010102030403e807d0001884c630313233343536373839616263646566',
  udp6_frag_later: '02000000000202000000000186dd6000000000102c40200100020000000000000000000000012001000200000001000000000000000111000010000000056162636465666768',
  sctp6_dstopts: '02000000000202000000000186dd6000000000183c402001000200000000000000000000000120010002000000010000000000000001840001040000000013881770000000014e97ba4301000004',
};

const u16 = (b: Buffer, at: number) => b.readUInt16BE(at);

test('udp4: every field of Ethernet, IPv4 and UDP, both checksums', () => {
  const f = udp4({ src: C4, dst: S4, sport: 1000, dport: 2000, payload: 'hello' });
  assert.equal(hex(f), REF.udp4);
  assert.equal(hex(f.subarray(0, 6)), '020000000002'); // dst MAC
  assert.equal(hex(f.subarray(6, 12)), '020000000001'); // src MAC
  assert.equal(u16(f, 12), 0x0800);
  const ip = f.subarray(14);
  assert.equal(ip[0], 0x45);
  assert.equal(u16(ip, 2), 20 + 8 + 5); // total length
  assert.equal(u16(ip, 4), 0); // id
  assert.equal(u16(ip, 6), 0); // no flags, offset 0
  assert.equal(ip[8], 64);
  assert.equal(ip[9], 17);
  assert.equal(u16(ip, 10), 0xeda5); // header checksum
  assert.equal(inetChecksum(ip.subarray(0, 20)), 0, 'a valid header sums to zero');
  assert.equal(hex(ip.subarray(12, 20)), 'c6120001c6120101');
  const udp = ip.subarray(20);
  assert.deepEqual([u16(udp, 0), u16(udp, 2), u16(udp, 4), u16(udp, 6)], [1000, 2000, 13, 0x2323]);
  assert.equal(udp.subarray(8).toString(), 'hello');
});

test('tcp4 under two VLAN tags (802.1ad outside, 802.1Q inside), SYN by default', () => {
  const f = tcp4({ src: C4, dst: S4, sport: 1001, dport: 80, vlan: [[0x88a8, 100], [0x8100, 200]] });
  assert.equal(hex(f), REF.tcp4_qinq);
  assert.deepEqual([u16(f, 12), u16(f, 14), u16(f, 16), u16(f, 18), u16(f, 20)], [0x88a8, 100, 0x8100, 200, 0x0800]);
  const ip = f.subarray(22);
  assert.equal(ip[9], 6);
  assert.equal(u16(ip, 10), 0xeda9);
  const tcp = ip.subarray(20);
  assert.equal(tcp[12] >> 4, 5); // data offset
  assert.equal(tcp[13], TCP_SYN);
  assert.equal(u16(tcp, 14), 8192); // window
  assert.equal(u16(tcp, 16), 0xfe82); // checksum over the pseudo-header
});

test('icmp4 echo request: TTL, identifier, sequence, checksum without pseudo-header', () => {
  const f = icmp4({ src: C4, dst: S4, ttl: 5, echoId: 0x1234, seq: 1, payload: 'ping' });
  assert.equal(hex(f), REF.icmp4);
  const ip = f.subarray(14);
  assert.equal(ip[8], 5);
  assert.equal(ip[9], 1);
  const icmp = ip.subarray(20);
  assert.deepEqual([icmp[0], icmp[1], u16(icmp, 2), u16(icmp, 4), u16(icmp, 6)], [8, 0, 0x06fa, 0x1234, 1]);
  assert.equal(inetChecksum(icmp), 0);
  assert.equal(icmp4({ src: C4, dst: S4, reply: true })[34], 0, 'echo reply is type 0');
});

test('IPv4 fragments: the first with MF and the UDP header, a later one with the payload only', () => {
  const first = udp4({ src: C4, dst: S4, sport: 1000, dport: 2000, payload: '0123456789abcdef', frag: { offset8: 0, more: true, id: 77 } });
  assert.equal(hex(first), REF.udp4_frag_first);
  assert.equal(u16(first, 14 + 4), 77);
  assert.equal(u16(first, 14 + 6), 0x2000); // MF, offset 0
  assert.equal(u16(first, 14 + 20 + 6), 0x37a8); // UDP checksum over the bytes present
  const later = udp4({ src: C4, dst: S4, sport: 1000, dport: 2000, payload: 'abcdefgh', frag: { offset8: 3, more: false, id: 77 } });
  assert.equal(hex(later), REF.udp4_frag_later);
  assert.equal(u16(later, 14 + 2), 28); // no UDP header
  assert.equal(u16(later, 14 + 6), 3); // offset 3 (24 bytes), no MF
  assert.equal(later[14 + 9], 17);
  assert.equal(u16(later, 14 + 10), 0xed5a);
  assert.equal(later.subarray(34).toString(), 'abcdefgh');
  const df = udp4({ src: C4, dst: S4, sport: 1, dport: 2, df: true });
  assert.equal(u16(df, 14 + 6), 0x4000);
  assert.equal(inetChecksum(df.subarray(14, 34)), 0);
});

test('sctp4: ports, verification tag, CRC32c', () => {
  const f = sctp4({ src: C4, dst: S4, sport: 5000, dport: 6000, vtag: 0xdeadbeef, payload: Buffer.from('01000004', 'hex') });
  assert.equal(hex(f), REF.sctp4);
  const sctp = f.subarray(34);
  assert.equal(f[14 + 9], 132);
  assert.deepEqual([u16(sctp, 0), u16(sctp, 2), sctp.readUInt32BE(4)], [5000, 6000, 0xdeadbeef]);
  assert.equal(hex(sctp.subarray(8, 12)), '15955ae6');
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283, 'the CRC32c check value');
});

test('udp6: every field of the IPv6 header, UDP checksum over the IPv6 pseudo-header', () => {
  const f = udp6({ src: C6, dst: S6, sport: 1000, dport: 2000, payload: 'hello6' });
  assert.equal(hex(f), REF.udp6);
  assert.equal(u16(f, 12), 0x86dd);
  const ip = f.subarray(14);
  assert.equal(ip.readUInt32BE(0), 0x60000000); // version 6, class 0, flow 0
  assert.equal(u16(ip, 4), 14); // payload length
  assert.equal(ip[6], 17);
  assert.equal(ip[7], 64);
  assert.equal(hex(ip.subarray(8, 24)), hex(ip6(C6)));
  assert.equal(hex(ip.subarray(24, 40)), '20010002000000010000000000000001');
  assert.equal(u16(ip, 40 + 6), 0x7009);
});

test('tcp6 behind hop-by-hop, routing and destination options (8 bytes each, chained)', () => {
  const f = tcp6({ src: C6, dst: S6, sport: 1001, dport: 443, flags: TCP_SYN | TCP_ACK, seq: 1, ack: 2, ext: [IPV6_HOPOPTS, IPV6_ROUTING, IPV6_DSTOPTS] });
  assert.equal(hex(f), REF.tcp6_ext);
  const ip = f.subarray(14);
  assert.equal(u16(ip, 4), 24 + 20);
  assert.equal(ip[6], 0); // hop-by-hop first
  assert.equal(hex(ip.subarray(40, 48)), '2b00010400000000'); // -> routing, PadN(4)
  assert.equal(hex(ip.subarray(48, 56)), '3c00000000000000'); // -> dest opts, type 0, segments left 0
  assert.equal(hex(ip.subarray(56, 64)), '0600010400000000'); // -> TCP, PadN(4)
  const tcp = ip.subarray(64);
  assert.equal(tcp[13], 0x12);
  assert.equal(u16(tcp, 16), 0x4a23);
});

test('icmp6 echo request and reply: types 128/129, checksum over the pseudo-header', () => {
  const req = icmp6({ src: C6, dst: S6, echoId: 7, seq: 9, payload: 'x' });
  assert.equal(hex(req), REF.icmp6);
  assert.equal(req[14 + 6], 58);
  assert.deepEqual([req[54], u16(req, 56), u16(req, 58), u16(req, 60)], [128, 0xc7a2, 7, 9]);
  const rep = icmp6({ src: S6, dst: C6, echoId: 7, seq: 9, payload: 'x', reply: true });
  assert.equal(hex(rep), REF.icmp6_reply);
  assert.equal(rep[54], 129);
});

test('IPv6 fragment header: first fragment with UDP, later fragment with the payload only', () => {
  const first = udp6({ src: C6, dst: S6, sport: 1000, dport: 2000, payload: '0123456789abcdef', frag6: { offset8: 0, more: true, id: 0x01020304 } });
  assert.equal(hex(first), REF.udp6_frag_first);
  assert.equal(first[14 + 6], 44);
  assert.equal(hex(first.subarray(54, 62)), '1100000101020304'); // -> UDP, offset 0, M, id
  assert.equal(u16(first, 62 + 6), 0x84c6);
  const later = udp6({ src: C6, dst: S6, sport: 1000, dport: 2000, payload: 'abcdefgh', frag6: { offset8: 2, more: false, id: 5 } });
  assert.equal(hex(later), REF.udp6_frag_later);
  assert.equal(u16(later, 14 + 4), 16);
  assert.equal(u16(later, 54 + 2), 2 << 3); // offset 2, no M
});

test('sctp6 behind destination options: CRC32c', () => {
  const f = sctp6({ src: C6, dst: S6, sport: 5000, dport: 6000, vtag: 1, payload: Buffer.from('01000004', 'hex'), ext: [IPV6_DSTOPTS] });
  assert.equal(hex(f), REF.sctp6_dstopts);
  assert.equal(f[14 + 6], 60);
  assert.equal(f[54], 132);
  assert.equal(hex(f.subarray(62 + 8, 62 + 12)), '4e97ba43');
});

test('addresses, MACs and bad input', () => {
  assert.equal(hex(ip6('::')), '0'.repeat(32));
  assert.equal(hex(ip6('::1')), '0'.repeat(31) + '1');
  assert.equal(hex(ip6('2001:2::')), '20010002' + '0'.repeat(24));
  assert.equal(hex(ip6('2001:2:0:1:0:0:0:fe')), '200100020000000100000000000000fe');
  for (const bad of ['2001::2::1', '2001:2', '1:2:3:4:5:6:7:8:9', '2001:2::g', '1:2:3:4:5:6:7::8']) assert.throws(() => ip6(bad), /not an IPv6 address/);
  assert.throws(() => udp4({ src: '198.18.0.256', dst: S4, sport: 1, dport: 2 }), /not an IPv4 address/);
  assert.throws(() => udp4({ src: C4, dst: S4, sport: 70000, dport: 2 }), /sport out of range/);
  assert.throws(() => udp6({ src: C6, dst: S6, sport: 1, dport: 2, ext: [51] }), /extension header 51/);
  const m = udp4({ src: C4, dst: S4, sport: 1, dport: 2, dmac: '0a:0b:0c:0d:0e:0f', smac: 'aa:bb:cc:dd:ee:ff' });
  assert.equal(hex(m.subarray(0, 12)), '0a0b0c0d0e0faabbccddeeff');
  // UDP never carries a zero checksum (0 means none): a sum of 0 goes out as 0xffff, as scapy
  // sends it too (this datagram's one's-complement sum is zero).
  assert.equal(u16(udp4({ src: C4, dst: S4, sport: 1, dport: 29366 }), 40), 0xffff);
});

/* The reference frames above came from this scapy 2.5.0 script (python3-scapy, run once):
 *   E = lambda: Ether(dst='02:00:00:00:00:02', src='02:00:00:00:00:01')
 *   ip = lambda **k: IP(src=C4, dst=S4, id=0, ttl=64, **k); ip6 = lambda **k: IPv6(src=C6, dst=S6, hlim=64, **k)
 *   udp4            E()/ip()/UDP(sport=1000, dport=2000)/b'hello'
 *   tcp4_qinq       Ether(..., type=0x88a8)/Dot1AD(vlan=100)/Dot1Q(vlan=200)/ip()/TCP(sport=1001, dport=80, flags='S', seq=0, window=8192)
 *   icmp4           E()/IP(src=C4, dst=S4, id=0, ttl=5)/ICMP(type=8, id=0x1234, seq=1)/b'ping'
 *   udp4_frag_first E()/IP(..., id=77, flags='MF', frag=0)/UDP(sport=1000, dport=2000)/b'0123456789abcdef'
 *   udp4_frag_later E()/IP(..., id=77, flags=0, frag=3, proto=17)/Raw(b'abcdefgh')
 *   sctp4           E()/ip()/SCTP(sport=5000, dport=6000, tag=0xdeadbeef)/Raw(b'\x01\x00\x00\x04')
 *   udp6            E()/ip6()/UDP(sport=1000, dport=2000)/b'hello6'
 *   tcp6_ext        E()/ip6()/IPv6ExtHdrHopByHop()/IPv6ExtHdrRouting()/IPv6ExtHdrDestOpt()/TCP(sport=1001, dport=443, flags='SA', seq=1, ack=2, window=8192)
 *   icmp6           E()/ip6()/ICMPv6EchoRequest(id=7, seq=9, data=b'x')
 *   icmp6_reply     E()/IPv6(src=S6, dst=C6, hlim=64)/ICMPv6EchoReply(id=7, seq=9, data=b'x')
 *   udp6_frag_first E()/ip6()/IPv6ExtHdrFragment(offset=0, m=1, id=0x01020304)/UDP(sport=1000, dport=2000)/b'0123456789abcdef'
 *   udp6_frag_later E()/ip6()/IPv6ExtHdrFragment(offset=2, m=0, id=5, nh=17)/Raw(b'abcdefgh')
 *   sctp6_dstopts   E()/ip6()/IPv6ExtHdrDestOpt()/SCTP(sport=5000, dport=6000, tag=1)/Raw(b'\x01\x00\x00\x04')
 * and print(bytes(frame).hex()) for each. */
