// reference.ts - the classifier as a plain linear scan, written apart from the datapath and
// the control plane (it reads rules as the API shows them, and tests containment with
// node's own net.BlockList), for the differential test of the XDP classifier.
//
// The ranking it states: a rule without a precedence (one exact IPv4 5-tuple) before every
// rule with one; then the lowest precedence; then the lowest id.
import net from 'node:net';

export interface RefRule {
  id: number;
  precedence: number | null;
  match: { src?: string; dst?: string; src_ports?: number | string; dst_ports?: number | string; proto?: number };
  action: { type: 'PASS' | 'DROP' | 'REDIRECT' };
}

export interface RefPacket {
  family: 4 | 6;
  src: string;
  dst: string;
  proto: number;
  sport: number; // 0 without ports
  dport: number;
  /** A later fragment: no ports; only rules without ports apply. */
  later?: boolean;
}

interface Compiled {
  rule: RefRule;
  src: net.BlockList | null;
  dst: net.BlockList | null;
  family: 4 | 6 | null;
  sp: [number, number] | null;
  dp: [number, number] | null;
}

const range = (p: number | string | undefined): [number, number] | null => {
  if (p === undefined) return null;
  if (typeof p === 'number') return [p, p];
  const [a, b] = p.split('-').map(Number);
  return [a, b];
};

function block(prefix: string | undefined): { list: net.BlockList; family: 4 | 6 } | null {
  if (prefix === undefined) return null;
  const [addr, len] = prefix.split('/');
  const family = net.isIPv6(addr) ? 6 : 4;
  const list = new net.BlockList();
  list.addSubnet(addr, Number(len), family === 6 ? 'ipv6' : 'ipv4');
  return { list, family };
}

export class Reference {
  private rules: Compiled[];

  constructor(rules: RefRule[]) {
    const rank = (r: RefRule) => (r.precedence === null ? -1 : r.precedence);
    this.rules = [...rules]
      .sort((a, b) => rank(a) - rank(b) || a.id - b.id)
      .map((rule) => {
        const s = block(rule.match.src), d = block(rule.match.dst);
        return { rule, src: s?.list ?? null, dst: d?.list ?? null, family: s?.family ?? d?.family ?? null, sp: range(rule.match.src_ports), dp: range(rule.match.dst_ports) };
      });
  }

  /** The rule that takes the packet, or null (the default action). */
  classify(p: RefPacket): RefRule | null {
    const type = p.family === 6 ? 'ipv6' : 'ipv4';
    for (const c of this.rules) {
      if (c.family !== null && c.family !== p.family) continue;
      if (c.rule.match.proto !== undefined && c.rule.match.proto !== p.proto) continue;
      if (p.later && (c.sp || c.dp)) continue;
      if (c.sp && (p.sport < c.sp[0] || p.sport > c.sp[1])) continue;
      if (c.dp && (p.dport < c.dp[0] || p.dport > c.dp[1])) continue;
      if (c.src && !c.src.check(p.src, type)) continue;
      if (c.dst && !c.dst.check(p.dst, type)) continue;
      return c.rule;
    }
    return null;
  }
}
