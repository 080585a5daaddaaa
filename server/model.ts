// model.ts - the rule as the service layer holds it: normalized (proto as its IANA number,
// absent optional fields as null). Field names are those of openapi.yaml and proto/.

export const ACTION_TYPES = ['PASS', 'DROP', 'REDIRECT'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const PROTO_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17 };
export const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };

/** Highest queue_id + 1 the datapath can ever honour (pcf_xskmap size, PCF_MAX_QUEUES). */
export const MAX_QUEUES = 64;

export interface FlowKey {
  src_ip: string;
  dst_ip: string;
  src_port: number;
  dst_port: number;
  proto: number;
}

export interface Nat {
  snat_ip: string | null;
  snat_port: number | null;
  dnat_ip: string | null;
  dnat_port: number | null;
}

export interface FlowAction {
  type: ActionType;
  ttl_delta: number | null;
  nat: Nat | null;
  mark: number | null;
  queue_id: number | null;
  mirror: boolean;
}

export interface FlowSpec {
  key: FlowKey;
  action: FlowAction;
}

export interface Counter {
  packets: number;
  bytes: number;
}

export interface Flow extends FlowSpec {
  id: number;
  revision: number;
  created_at: string;
  updated_at: string;
  counters?: Counter;
}

export interface FlowFilter {
  src_ip?: string;
  dst_ip?: string;
  src_port?: number;
  dst_port?: number;
  proto?: number;
  type?: ActionType;
}

export interface FlowEvent {
  revision: number;
  kind: 'UPSERT' | 'DELETE';
  id: number;
  flow: Flow;
}

/** The identity of a rule in maps and in SQLite: one string per 5-tuple. */
export function keyString(k: FlowKey): string {
  return `${k.src_ip}|${k.dst_ip}|${k.src_port}|${k.dst_port}|${k.proto}`;
}
