// client.ts - what pcfctl asks of the control plane, the same over REST and gRPC, and the
// errors it ends with. Shapes are those of openapi.yaml (generated types); the gRPC client
// converts its messages to them for display and keeps the message itself for --json.
import type { components } from '../server/generated/openapi.js';

export type Flow = components['schemas']['Flow'];
export type FlowKey = components['schemas']['FlowKey'];
export type FlowAction = components['schemas']['FlowAction'];
export type FlowSpec = components['schemas']['FlowSpec'];
export type Stats = components['schemas']['Stats'];
export type Worker = components['schemas']['Worker'];
export type ActionType = components['schemas']['ActionType'];
export type PccRule = components['schemas']['PccRule'];
export type PccRuleSpec = components['schemas']['PccRuleSpec'];
export type PacketEvent = components['schemas']['PacketEvent'];
export type PacketEventConfig = components['schemas']['PacketEventConfig'];

/** Which packet events to stream (all given must hold). */
export interface EventFilter {
  rule_id?: number;
  action?: ActionType;
  /** An address or prefix, source or destination. */
  address?: string;
}

export interface FlowFilter {
  src_ip?: string;
  dst_ip?: string;
  src_port?: number;
  dst_port?: number;
  /** IANA number or name, as the user wrote it. */
  proto?: string | number;
  type?: ActionType;
}

export interface FlowEvent {
  revision: number;
  kind: 'UPSERT' | 'DELETE';
  id: number;
  flow: Flow;
}

/** A decoded answer plus `raw`, exactly the API's JSON (REST body or gRPC message) for --json. */
export type WithRaw<T> = T & { raw: unknown };

/** How pcfctl proves itself and checks the server: a bearer token, TLS with a CA, a client certificate. */
export interface ClientSecurity {
  token: string | null;
  /** TLS on both transports (https:// in --http implies it for REST). */
  tls: boolean;
  ca: Buffer | null;
  cert: Buffer | null;
  key: Buffer | null;
}

export const NO_SECURITY: ClientSecurity = { token: null, tls: false, ca: null, cert: null, key: null };

export interface UpsertManyResult {
  created: number;
  updated: number;
  ids: number[];
  /** Revision after the batch (gRPC BatchUpsertFlows only). */
  revision?: number;
}

export interface Watch {
  /** Ends the stream; the `done` promise then resolves. */
  cancel(): void;
  /** Resolves when the stream ends by cancel(), rejects with a CliError otherwise. */
  done: Promise<void>;
}

export interface PcfClient {
  /** What was dialled, for messages: "http://127.0.0.1:8080" or "127.0.0.1:50051 (gRPC)". */
  readonly target: string;
  upsert(spec: unknown): Promise<WithRaw<{ flow: Flow; created: boolean }>>;
  /** gRPC: one all-or-nothing BatchUpsertFlows. REST: one POST per rule, in order. */
  upsertMany(specs: unknown[]): Promise<WithRaw<UpsertManyResult>>;
  list(filter: FlowFilter, limit: number | undefined, cursor: number | undefined): Promise<WithRaw<{ flows: Flow[]; next_cursor: number | null }>>;
  get(id: number): Promise<WithRaw<{ flow: Flow }>>;
  delete(id: number): Promise<WithRaw<object>>;
  /** All or nothing: POST /flows/batch-delete or BatchDeleteFlows. */
  deleteMany(ids: number[]): Promise<WithRaw<{ deleted: number; revision: number }>>;
  /** rules: also every rule that counted a packet (O(rules) on the server). */
  stats(rules?: boolean): Promise<WithRaw<{ stats: Stats }>>;
  /** PUT /pcc-rules/{id} or UpsertPccRule: the PCC rule with its filters' flows. */
  upsertPcc(id: string, spec: unknown): Promise<WithRaw<{ rule: PccRule; created: boolean }>>;
  getPcc(id: string): Promise<WithRaw<{ rule: PccRule }>>;
  listPcc(limit: number | undefined, cursor: string | undefined): Promise<WithRaw<{ rules: PccRule[]; next_cursor: string | null }>>;
  deletePcc(id: string): Promise<WithRaw<object>>;
  /** GET /events/config or GetPacketEventConfig. */
  eventConfig(): Promise<WithRaw<{ config: PacketEventConfig }>>;
  /** PUT /events/config or SetPacketEventConfig: the whole setting. */
  setEventConfig(c: PacketEventConfig): Promise<WithRaw<{ config: PacketEventConfig }>>;
  /** GET /events (server-sent events) or WatchPacketEvents, until cancel(). onLost: the
   * server dropped n events for this client (it read too slowly) and no event followed. */
  observe(filter: EventFilter, onEvent: (e: PacketEvent, raw: unknown) => void, onLost: (n: number) => void): Watch;
  close(): void;
}

/** Ends pcfctl: each line goes to stderr as "pcfctl: <line>", then exit with `exitCode`. */
export class CliError extends Error {
  constructor(readonly lines: string[], readonly exitCode: number) {
    super(lines.join('; '));
    this.name = 'CliError';
  }
}

/** Exit codes. */
export const EXIT = {
  /** The server refused the request (problem+json, gRPC status). */
  REFUSED: 1,
  /** Bad command line or input file: nothing was sent. */
  USAGE: 2,
  /** The server could not be reached (or did not answer in time). */
  UNREACHABLE: 3,
} as const;

/** The server refused: `fields` holds its field errors (problem+json errors[], INVALID_ARGUMENT), if any. */
export class RefusedError extends CliError {
  constructor(lines: string[], readonly fields: { field: string; message: string }[] = []) {
    super(lines, EXIT.REFUSED);
    this.name = 'RefusedError';
  }
}

export const usageError = (msg: string) => new CliError([msg], EXIT.USAGE);
export const unreachable = (target: string, why: string) =>
  new CliError([`cannot reach the control plane at ${target}: ${why}`], EXIT.UNREACHABLE);
