// protocols.ts - the IP protocols the API takes by name, for the server and pcfctl alike.

/** A match's protocol by name; any number 0..255 is taken too. */
export const MATCH_PROTOCOLS: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17, dccp: 33, icmpv6: 58, sctp: 132, udplite: 136 };

/** An exact key's protocols: these three only. */
export const KEY_PROTOCOLS: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17 };

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(MATCH_PROTOCOLS).map(([n, v]) => [v, n]));

/** 17 or '17' -> 'udp', 58 -> 'icmpv6'; anything else as written. */
export const protocolName = (p: number | string): string => NAMES[Number(p)] ?? String(p);
