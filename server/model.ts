// model.ts - the rule as the service layer holds it: normalized (proto as its IANA number,
// absent optional fields as null). Field names are those of openapi.yaml and proto/.
import type { Match, MatchBody } from './match.js';

export const ACTION_TYPES = ['PASS', 'DROP', 'REDIRECT'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

/** An exact key's protocols by name: the API's table, shared with pcfctl. */
export { KEY_PROTOCOLS as PROTO_NUMBERS } from '../api/protocols.js';

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

/**
 * A rule, validated and normalized. Ranking (xdp/README.md: Classifier): a rule without a
 * precedence is one exact IPv4 5-tuple and ranks above every rule with one; among rules with
 * a precedence the lowest value wins, equal values go to the older rule (the lower id).
 */
export interface FlowSpec {
  match: Match;
  /** The match as an exact IPv4 5-tuple, when it is one. */
  key: FlowKey | null;
  /** 0..2^32-1, lower wins; null only for an exact 5-tuple. */
  precedence: number | null;
  action: FlowAction;
  /** The PCC rule whose filter this rule is (TS 29.512), or null for a rule of its own. */
  owner: { pcc_rule_id: string; filter_index: number } | null;
  /** The 3GPP flow description (TS 29.212 §5.4.2) the match was read from, if it was. */
  source: { flow_description: string; flow_direction: string } | null;
}

export interface Counter {
  packets: number;
  bytes: number;
}

/** A rule as the API shows it. */
export interface Flow {
  id: number;
  /** Present when the match is one exact IPv4 5-tuple (every rule of the first API). */
  key?: FlowKey;
  match: MatchBody;
  precedence: number | null;
  action: FlowAction;
  /** Set when the rule is a filter of a PCC rule (change it through /pcc-rules). */
  pcc_rule_id?: string;
  /** Set when the match was given as a 3GPP flow description. */
  flow_description?: string;
  flow_direction?: string;
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

