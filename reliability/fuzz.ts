// fuzz.ts - the fuzzing part of the reliability suite: a control plane started in-process
// without a datapath (rules are stored only), then REST requests generated from openapi.yaml
// and gRPC calls generated from proto/pcf/v1/pcf.proto, a seeded mix of valid values and hostile
// mutations, each answer checked for what is a bug whatever the input:
//   REST: a 5xx the operation does not document; a 4xx that is not JSON / problem+json (or whose
//         problem `status` differs); a refused (4xx) request after which GET /stats `revision` or
//         `datapath.rules_in_db` changed; no answer (timeout, reset); the server gone (/healthz).
//   gRPC: INTERNAL or UNKNOWN; a refused mutating call after which GetStats `revision` changed;
//         no answer within the deadline; the server gone.
// Every loop is bounded by a count and by a total time limit; the only target is 127.0.0.1.
// Deterministic for a seed: one seeded PRNG per transport, requests sent one at a time.
//
//   node --import tsx reliability/fuzz.ts [--requests N] [--seed S] [--json] [--time-limit SECONDS]
// prints a short table (or the report as JSON) and exits 1 when there is any finding.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import yaml from 'js-yaml';
import { JSONSchemaFaker as jsf } from 'json-schema-faker';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { byName, grpcClient, startInProcess, tempDb, type PcfClient } from '../test/lib/cp.js';
import { PROTO_DIR, PROTO_FILES, PROTO_OPTIONS } from '../api/proto.js';

export interface FuzzReport {
  rest: { requests: number; by_status: Record<string, number>; findings: string[] };
  grpc: { calls: number; by_code: Record<string, number>; findings: string[] };
  crashed: boolean;
  seconds: number;
}

export interface FuzzOptions {
  requests: number;
  seed: number;
  log?: (s: string) => void;
  /** Total wall-clock limit for both phases, in ms (default 5 minutes). */
  timeLimitMs?: number;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OPENAPI_FILE = path.join(ROOT, 'openapi.yaml');
const HOST = '127.0.0.1';
const DEFAULT_TIME_LIMIT_MS = 5 * 60_000;
const REQUEST_TIMEOUT_MS = 10_000;
const TRUNC = 300;
/** PCF_FUZZ_TRACE=<file>: every request and its answer, one line each (for reading what ran). */
const TRACE = process.env.PCF_FUZZ_TRACE || null;
const trace = (line: string) => {
  if (TRACE) fs.appendFileSync(TRACE, `${line.replace(/\n/g, '\\n')}\n`);
};

// ---------------------------------------------------------------------------------------------
// Seeded PRNG (sfc32, seeded through splitmix32) and helpers.

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number, stream = 0) {
    const sm = splitmix32((seed ^ Math.imul(stream + 1, 0x27d4eb2d)) >>> 0);
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    for (let i = 0; i < 12; i++) this.next();
  }
  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t / 4294967296;
  }
  /** Integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** Picks by weight: [[weight, value], ...]. */
  weighted<T>(xs: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of xs) total += w;
    let x = this.next() * total;
    for (const [w, v] of xs) {
      if ((x -= w) < 0) return v;
    }
    return xs[xs.length - 1][1];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

/** What is being sent now: an exception that escapes the server is charged to it. */
let inFlight = '';
/** How many exceptions escaped the server so far (a hang right after one is that crash). */
let escapes = 0;
const trunc = (s: string, n = TRUNC) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
/** encodeURIComponent, also for lone surrogates (sent as the bytes Buffer makes of them). */
const enc = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...Buffer.from(s)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Domain values: addresses, prefixes, ports, flow descriptions and names, drawn from small pools
// so that requests meet each other (the same key twice is an update, a known id is found).

function ipv4(r: Rng): string {
  return r.weighted([
    [6, () => `198.18.${r.int(0, 3)}.${r.int(1, 20)}`],
    [2, () => `10.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(0, 255)}`],
    [1, () => `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(0, 255)}`],
  ] as const)();
}

function ipv6(r: Rng): string {
  return r.weighted([
    [5, () => `2001:db8::${r.int(1, 40).toString(16)}`],
    [2, () => `2001:db8:${r.int(0, 0xffff).toString(16)}::${r.int(1, 0xffff).toString(16)}`],
    [1, () => `fd00:${r.int(0, 0xffff).toString(16)}:${r.int(0, 0xffff).toString(16)}::1`],
  ] as const)();
}

const ip = (r: Rng) => (r.chance(0.8) ? ipv4(r) : ipv6(r));

function prefix4(r: Rng): string {
  const len = r.pick([8, 16, 24, 32, 32]);
  const a = ipv4(r).split('.').map(Number);
  const n = ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
  const masked = len === 0 ? 0 : (n & (~0 << (32 - len))) >>> 0;
  const s = [masked >>> 24, (masked >>> 16) & 255, (masked >>> 8) & 255, masked & 255].join('.');
  return len === 32 && r.chance(0.5) ? s : `${s}/${len}`;
}

function prefix6(r: Rng): string {
  const len = r.pick([32, 48, 64, 128]);
  const g = [0x2001, 0xdb8, r.int(0, 3), r.int(0, 3), 0, 0, 0, r.int(1, 40)];
  const keep = Math.floor(len / 16);
  const groups = g.map((x, i) => (i < keep ? x : 0));
  const s = `${groups.slice(0, Math.max(keep, 1)).map((x) => x.toString(16)).join(':')}${keep < 8 ? '::' : ''}`;
  return len === 128 && r.chance(0.5) ? s : `${s}/${len}`;
}

const prefix = (r: Rng, fam6 = r.chance(0.25)) => (fam6 ? prefix6(r) : prefix4(r));
const port = (r: Rng) => (r.chance(0.6) ? r.pick([53, 80, 443, 5000, 7000, 8080]) : r.int(0, 65535));

function portRange(r: Rng): string {
  const lo = r.int(0, 65000);
  return `${lo}-${Math.min(65535, lo + r.int(0, 2000))}`;
}

function flowDescription(r: Rng): string {
  const fam6 = r.chance(0.2);
  const proto = r.pick(fam6 ? ['17', '6', '58', 'ip'] : ['17', '6', '1', 'ip', '132']);
  const withPorts = ['17', '6', '132'].includes(proto);
  const addr = () => r.weighted([[3, () => prefix(r, fam6)], [2, () => 'assigned'], [2, () => 'any']] as const)();
  const ports = () => (withPorts && r.chance(0.5)
    ? ` ${r.weighted([[3, () => String(port(r))], [2, () => portRange(r)], [1, () => `${port(r)},${port(r)}`]] as const)()}`
    : '');
  return `permit out ${proto} from ${addr()}${ports()} to ${addr()}${ports()}`;
}

const pccId = (r: Rng) => r.weighted([[6, () => `pcc-${r.int(1, 40)}`], [1, () => `rule.${r.int(0, 9999)}:x~y_z`]] as const)();

/** Keeps a FlowSpec-shaped object plausible: one of key/match/flow_description, an action whose
 *  options fit its type. Keeps the share of accepted requests high enough that refusals meet
 *  stored state (updates, conflicts, deletes of real rules). */
function shapeFlowSpec(o: Record<string, any>, r: Rng, grpcForm = false): void {
  if (!o || typeof o !== 'object') return;
  if (r.chance(0.85)) {
    const form = r.weighted([[4, 'key'], [3, 'match'], [2, 'flow_description']] as const);
    for (const f of ['key', 'match', 'flow_description']) if (f !== form) delete o[f];
    if (form === 'flow_description') {
      o.flow_description ??= flowDescription(r);
      if (r.chance(0.75)) o.flow_direction = r.pick(['DOWNLINK', 'UPLINK']);
      if (r.chance(0.6)) o.ue_ip = o.flow_description.includes(':') ? ipv6(r) : ipv4(r);
    } else {
      if (!grpcForm || form !== 'key') delete o.flow_direction;
      delete o.ue_ip;
    }
    if (form === 'key' && o.key && r.chance(0.6)) delete o.precedence;
    if (form !== 'key' && o.precedence === undefined && r.chance(0.8)) o.precedence = r.int(0, 1000);
    if (form === 'match' && o.match && typeof o.match === 'object') {
      const m = o.match;
      if (r.chance(0.5)) {
        const fam6 = r.chance(0.25);
        if (m.src !== undefined) m.src = prefix(r, fam6);
        if (m.dst !== undefined) m.dst = prefix(r, fam6);
      }
      if ((m.src_ports !== undefined || m.dst_ports !== undefined) && r.chance(0.7)) m.proto = grpcForm ? r.pick([6, 17]) : r.pick([6, 17, 'tcp', 'udp']);
    }
  }
  if (o.action && typeof o.action === 'object') shapeAction(o.action, r);
}

function shapeAction(a: Record<string, any>, r: Rng): void {
  if (a.type !== 'REDIRECT' && r.chance(0.85)) {
    delete a.ttl_delta;
    delete a.nat;
    delete a.queue_id;
    delete a.mirror;
  }
  if (a.type === 'DROP' && r.chance(0.85)) delete a.mark;
  if (a.type === 'REDIRECT' && a.nat && r.chance(0.7)) delete a.nat;
}

// ---------------------------------------------------------------------------------------------
// Hostile values.

const RAW = '\u0001RAW:';
/** A JSON literal that JSON.stringify cannot write (1e400, -0, duplicate keys...), spliced in. */
const raw = (text: string) => `${RAW}${text}\u0001`;
const spliceRaw = (json: string) => json.replace(/"\\u0001RAW:((?:[^\\]|\\(?!u0001))*)\\u0001"/g, (_m, t: string) => JSON.parse(`"${t}"`));

function deepNesting(r: Rng): string {
  const n = r.pick([64, 1000, 5000, 10_000, 25_000]);
  return r.chance(0.5) ? '['.repeat(n) + ']'.repeat(n) : `${'{"a":'.repeat(Math.min(n, 9000))}1${'}'.repeat(Math.min(n, 9000))}`;
}

const HOSTILE_STRINGS: readonly string[] = [
  '', ' ', 'Infinity', '-Infinity', 'NaN', '-0', '0x10', '1e400', '1e3', '010', '+1', ' 5', '5 ', '1_000', '0b101', '0o17',
  'null', 'true', 'undefined', '9'.repeat(400), '18446744073709551616', '4294967296', '65536', '-1',
  '\u0000', 'a\u0000b', '😀', '\u202eRTL', '\ud800', '\udfff\ud800', 'ünïcödé ǅ ß ﬁ', '\ufeff', 'İ', '\u0085\u2028\u2029',
  '%00', '%', '%zz', '../../../etc/passwd', '<script>alert(1)</script>', "' OR 1=1; DROP TABLE flows;--", '${jndi:ldap://127.0.0.1/x}',
  '{{7*7}}', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'A'.repeat(8192), '😀'.repeat(2048),
  '198.18.0.1/33', '256.1.1.1', '1.2.3', '::ffff:1.2.3.4', '2001:db8::/129', '0.0.0.0', '::', '198.18.0.1 ', '01.2.3.4',
  '65535-0', '1-2-3', '70000-80000', 'permit out 17 from any to any 1-70000', 'permit out 17 from 10.0.0.0/33 to assigned',
  'deny in ip from any to any', 'permit out ip from any to any frag', 'permit out 17 from any ' + '1,'.repeat(300) + '2 to any',
  'PASS', 'pass', 'REDIRECT ', 'UNSPECIFIED', 'ACTION_TYPE_UNSPECIFIED', 'FLOW_DIRECTION_UNSPECIFIED',
];

function hostileValue(r: Rng): unknown {
  return r.weighted<() => unknown>([
    [10, () => r.pick(HOSTILE_STRINGS)],
    [6, () => r.pick([null, true, false, 0, -1, 1.5, -0.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 4294967295, 4294967296, 65535, 65536, -129, 128, 64, 255, 256])],
    [4, () => raw(r.pick(['1e400', '-1e400', '-0', '1.0', '1E2', '123456789012345678901234567890', '1e-400', '4294967295.5', '65535.0000000001', '0.1']))],
    [3, () => r.pick([[], [1, 2, 3], [null], ['PASS'], {}, { a: 1 }, { type: 'PASS' }, [{}]])],
    [1, () => raw(deepNesting(r))],
    [1, () => raw('{"__proto__":{"polluted":true,"type":"PASS"}}')],
    [1, () => raw('{"constructor":{"prototype":{"polluted":true}}}')],
  ])();
}

type PathEl = string | number;

/** Every value under the root (not the root itself), as paths; at most `max`. */
function valuePaths(v: unknown, max = 200, at: PathEl[] = [], out: PathEl[][] = []): PathEl[][] {
  if (out.length >= max || v === null || typeof v !== 'object') return out;
  const entries: [PathEl, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v as object);
  for (const [k, x] of entries) {
    out.push([...at, k]);
    valuePaths(x, max, [...at, k], out);
  }
  return out;
}

function getAt(v: any, p: PathEl[]): any {
  for (const k of p) v = v?.[k];
  return v;
}

function setAt(root: any, p: PathEl[], value: unknown): void {
  const parent = getAt(root, p.slice(0, -1));
  if (parent && typeof parent === 'object') parent[p[p.length - 1] as any] = value;
}

function deleteAt(root: any, p: PathEl[]): void {
  const parent = getAt(root, p.slice(0, -1));
  if (Array.isArray(parent)) parent.splice(Number(p[p.length - 1]), 1);
  else if (parent && typeof parent === 'object') delete parent[p[p.length - 1] as any];
}

// ---------------------------------------------------------------------------------------------
// Findings, deduplicated by a signature that ignores the values in messages.

class Findings {
  private readonly seen = new Map<string, { text: string; count: number }>();
  add(sig: string, text: string): void {
    const f = this.seen.get(sig);
    if (f) f.count++;
    else this.seen.set(sig, { text: text.replace(/\s*\n\s*/g, ' '), count: 1 });
  }
  get size(): number {
    return this.seen.size;
  }
  list(): string[] {
    return [...this.seen.values()].map((f) => (f.count > 1 ? `${f.text} [seen ${f.count}×]` : f.text));
  }
}

/** A message with its values taken out, so the same bug with other values is one finding. */
const shape = (s: string) => s.replace(/"(?:[^"\\]|\\.)*"/g, 'S').replace(/\d+/g, 'N').slice(0, 160);

// ---------------------------------------------------------------------------------------------
// REST from openapi.yaml.

interface Param { name: string; in: string; required?: boolean; schema?: any }
interface RestOp {
  method: string;
  template: string;
  params: Param[];
  body: { schema: any; required: boolean } | null;
  documented: Set<string>;
  mutating: boolean;
  undocumented?: boolean;
}

interface Spec { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } }

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function restOps(spec: Spec): RestOp[] {
  const ops: RestOp[] = [];
  for (const [template, item] of Object.entries(spec.paths)) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      const params: Param[] = [...(item.parameters ?? []), ...(op.parameters ?? [])];
      const json = op.requestBody?.content?.['application/json'];
      ops.push({
        method: m.toUpperCase(), template, params,
        body: json ? { schema: json.schema, required: !!op.requestBody.required } : null,
        documented: new Set(Object.keys(op.responses ?? {})),
        mutating: m !== 'get' && m !== 'head' && m !== 'options',
      });
    }
  }
  return ops;
}

/** Undocumented method/path pairs: refusals that must still be problem+json. */
function strayOps(spec: Spec): RestOp[] {
  const out: RestOp[] = [];
  for (const [template, item] of Object.entries(spec.paths)) {
    const params: Param[] = [...(item.parameters ?? [])];
    for (const m of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
      if (item[m]) continue;
      out.push({ method: m.toUpperCase(), template, params, body: null, documented: new Set(), mutating: !['get', 'head', 'options'].includes(m), undocumented: true });
    }
  }
  for (const template of ['/', '/flows/batch-delete/1', '/flows/1/2', '/FLOWS', '/flows/', '/stats/', '/pcc-rules/x/y', '/%2e%2e/stats', '/metrics.json', '/.env']) {
    out.push({ method: 'GET', template, params: [], body: null, documented: new Set(), mutating: false, undocumented: true });
  }
  out.push({ method: 'POST', template: '/stats', params: [], body: null, documented: new Set(), mutating: true, undocumented: true });
  return out;
}

let jsfRng: Rng = new Rng(0);
let jsfReady = false;

function setupJsf(): void {
  if (jsfReady) return;
  jsfReady = true;
  jsf.option({
    random: () => jsfRng.next(),
    optionalsProbability: 0.6,
    alwaysFakeOptionals: false,
    useDefaultValue: false,
    useExamplesValue: false,
    maxItems: 6,
    maxLength: 600,
    failOnInvalidFormat: false,
    failOnInvalidTypes: false,
    ignoreMissingRefs: true,
  } as any);
  jsf.format('pcf-prefix', () => prefix(jsfRng));
  jsf.format('pcf-ports', () => portRange(jsfRng));
  jsf.format('pcf-flowdesc', () => flowDescription(jsfRng));
  jsf.format('pcf-pccid', () => pccId(jsfRng));
  jsf.format('pcf-ip', () => ip(jsfRng));
  jsf.format('pcf-ipv4', () => ipv4(jsfRng));
}

/** Schemas replaced by a domain format for generation (the generated value still fits the schema). */
const NAMED_OVERLAY: Record<string, () => any> = {
  Prefix: () => ({ type: 'string', format: 'pcf-prefix' }),
  FlowDescription: () => ({ type: 'string', format: 'pcf-flowdesc' }),
  PccRuleId: () => ({ type: 'string', format: 'pcf-pccid' }),
  PortRange: () => ({ oneOf: [{ type: 'integer', minimum: 0, maximum: 65535 }, { type: 'string', format: 'pcf-ports' }] }),
};
const PROP_OVERLAY: Record<string, any> = {
  ue_ip: { type: 'string', format: 'pcf-ip' },
  snat_ip: { type: 'string', format: 'pcf-ip' },
  dnat_ip: { type: 'string', format: 'pcf-ip' },
  src_ip: { type: 'string', format: 'pcf-ipv4' },
  dst_ip: { type: 'string', format: 'pcf-ipv4' },
};

/** A schema with every $ref into components/schemas resolved (and OpenAPI-only keywords dropped). */
function resolveSchema(s: any, spec: Spec, depth = 0): any {
  if (s === null || typeof s !== 'object') return s;
  if (Array.isArray(s)) return s.map((x) => resolveSchema(x, spec, depth));
  if (depth > 24) return {};
  if (typeof s.$ref === 'string') {
    const name = s.$ref.replace('#/components/schemas/', '');
    if (NAMED_OVERLAY[name]) return NAMED_OVERLAY[name]();
    return resolveSchema(spec.components.schemas[name] ?? {}, spec, depth + 1);
  }
  const out: any = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'nullable' || k === 'description' || k === 'default' || k === 'example') continue;
    if (k === 'properties') {
      out.properties = Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, PROP_OVERLAY[pk] && (pv as any)?.type === 'string' ? { ...PROP_OVERLAY[pk], ...((pv as any).maxLength ? { maxLength: (pv as any).maxLength } : {}) } : resolveSchema(pv, spec, depth + 1)]));
    } else out[k] = resolveSchema(v, spec, depth + 1);
  }
  return out;
}

function generate(schema: any, r: Rng, allOptionals = false): unknown {
  jsfRng = r;
  jsf.option('alwaysFakeOptionals', allOptionals);
  try {
    return jsf.generate(schema);
  } catch {
    return {};
  } finally {
    jsf.option('alwaysFakeOptionals', false);
  }
}

interface RestState {
  flowIds: number[];
  pccIds: string[];
  pccFlowIds: number[];
  /** {match, precedence} of PCC rules' flows, as JSON: a POST /flows of one is a conflict. */
  pccMatches: string[];
}

const remember = <T>(xs: T[], x: T, cap = 400) => {
  if (!xs.includes(x)) xs.push(x);
  if (xs.length > cap) xs.shift();
};
const forget = <T>(xs: T[], x: T) => {
  const i = xs.indexOf(x);
  if (i >= 0) xs.splice(i, 1);
};

interface BuiltRequest {
  method: string;
  url: string; // path and query
  headers: Record<string, string>;
  body: Buffer | null;
  /** What the request was, for a finding: method, URL, content type, the body's start. */
  desc: string;
}

const HOSTILE_PATH_INT = ['0', '-1', '-0', '0x10', '1e400', '1e0', 'Infinity', 'NaN', '1.0', '1.5', '+1', '%201', '1%20', '%00', '%', '%zz', '😀', 'abc',
  '9'.repeat(30), '18446744073709551616', '9007199254740993', '4294967296', '2147483648', '1;2', '1,2', 'a'.repeat(8192), 'null', 'undefined', '%2F', '[1]', '..', '%2e%2e'];
const HOSTILE_PATH_STR = ['', 'a'.repeat(129), 'a'.repeat(8192), '%2F', '%2Fetc%2Fpasswd', 'a%20b', '😀', '%00', '%', '%zz', '..', '.', '*', 'pcc-1%00', 'ünï', '%F0%9F', '\'"', '{id}', '$(id)'];
const CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/merge-patch+json',
  'application/json; charset=latin1', 'application/json; charset=utf-16', 'APPLICATION/JSON', 'application/json;;', 'application/problem+json', '*/*',
  'application/json, text/plain', 'application/jsonx', 'json', 'application/vnd.api+json', 'application/json; charset=UTF-8', ''];

function pathValue(p: Param, r: Rng, spec: Spec, st: RestState, valid: boolean): string {
  const isInt = resolveSchema(p.schema, spec)?.type === 'integer';
  if (valid) {
    if (isInt) return String(st.flowIds.length && r.chance(0.7) ? r.pick(st.flowIds) : st.pccFlowIds.length && r.chance(0.3) ? r.pick(st.pccFlowIds) : r.int(1, 3000));
    return enc(st.pccIds.length && r.chance(0.6) ? r.pick(st.pccIds) : pccId(r));
  }
  if (r.chance(0.2)) return enc(r.pick(HOSTILE_STRINGS));
  const v = r.pick(isInt ? HOSTILE_PATH_INT : HOSTILE_PATH_STR);
  return /^[\x20-\x7e]*$/.test(v) && !v.includes(' ') ? v : enc(v);
}

function queryString(op: RestOp, r: Rng, spec: Spec, valid: boolean): string {
  const parts: string[] = [];
  for (const p of op.params.filter((x) => x.in === 'query')) {
    if (!r.chance(valid ? 0.4 : 0.5)) continue;
    const v = generate(resolveSchema(p.schema, spec), r);
    parts.push(`${enc(p.name)}=${enc(String(v))}`);
  }
  if (!valid) {
    const qps = op.params.filter((x) => x.in === 'query');
    const name = qps.length ? r.pick(qps).name : r.pick(['limit', 'cursor', 'x']);
    r.weighted<() => void>([
      [6, () => parts.push(`${enc(name)}=${enc(String(r.pick(HOSTILE_STRINGS)))}`)],
      [2, () => parts.push(`${enc(name)}=${r.pick(['1', '5', 'tcp'])}`, `${enc(name)}=${r.pick(['2', '6', 'udp'])}`)],
      [2, () => parts.push(`${r.pick(['zzz', 'id', 'revision', '__proto__', 'constructor', 'limit[]', 'limit[a]', 'Limit'])}=1`)],
      [1, () => parts.push(`${enc(name)}=`)],
      [1, () => parts.push(enc(name))],
      [1, () => parts.push(`${enc(name)}=${r.pick(['%zz', '%', '%00', '1%00', '1%2C2', '%E2%80%AE'])}`)],
      [1, () => {
        for (let i = 0; i < 1200; i++) parts.push(`p${i}=1`);
      }],
    ])();
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** A valid body for an operation, generated from its schema, shaped for the domain. */
function validBody(op: RestOp, r: Rng, spec: Spec, st: RestState): unknown {
  const schema = resolveSchema(op.body!.schema, spec);
  const flowSpec = op.template === '/flows' && op.method === 'POST';
  // A FlowSpec with every field, then cut to one form (key, match or flow_description).
  const v = generate(schema, r, flowSpec && r.chance(0.8)) as any;
  if (flowSpec) shapeFlowSpec(v, r);
  if (op.template === '/flows/batch-delete') {
    const n = r.int(1, 6);
    const pool = [...st.flowIds, ...(r.chance(0.2) ? st.pccFlowIds : [])];
    const ids = new Set<number>();
    for (let i = 0; i < n; i++) ids.add(pool.length && r.chance(0.8) ? r.pick(pool) : r.int(1, 3000));
    v.ids = [...ids];
  }
  if (op.template.startsWith('/pcc-rules/') && v && typeof v === 'object') {
    if (Array.isArray(v.flow_infos)) v.flow_infos = v.flow_infos.slice(0, r.int(1, 4));
    if (v.action) shapeAction(v.action, r);
    if (r.chance(0.7)) v.precedence = r.int(0, 1000);
  }
  return v;
}

/** One hostile change to a body: a value, a missing or extra field, the whole body, or its bytes. */
function hostileBody(op: RestOp, r: Rng, base: unknown): { text: string | Buffer; ct: string | null; enc?: string; note: string } {
  const ct = 'application/json';
  const clone = () => JSON.parse(JSON.stringify(base ?? {}));
  const kind = r.weighted([
    [10, 'set'], [4, 'delete'], [4, 'extra'], [3, 'whole'], [2, 'truncate'], [3, 'text'], [3, 'content-type'], [1, 'encoding'], [1, 'oversize'], [1, 'dup-key'],
  ] as const);
  switch (kind) {
    case 'set':
    case 'delete':
    case 'extra': {
      const v = clone();
      const n = r.int(1, 3);
      for (let i = 0; i < n; i++) {
        const paths = valuePaths(v);
        if (kind === 'set' && paths.length) setAt(v, r.pick(paths), hostileValue(r));
        else if (kind === 'delete' && paths.length) deleteAt(v, r.pick(paths));
        else {
          const objs = [[], ...paths].filter((p) => { const x = getAt(v, p); return x && typeof x === 'object' && !Array.isArray(x); });
          const at = objs.length ? r.pick(objs) : [];
          const name = r.pick(['zzz', 'extra', '', 'id', 'revision', 'created_at', 'owner', 'pcc_rule_id', 'counters', 'key ', 'Action', 'toString', 'constructor', '\u0000', '😀']);
          const target = at.length ? getAt(v, at) : v;
          if (target && typeof target === 'object') target[name] = hostileValue(r);
        }
      }
      return { text: spliceRaw(JSON.stringify(v)), ct, note: kind };
    }
    case 'whole': {
      const w = r.pick<unknown>([null, [], 'x', 1, true, false, {}, [base, base], { body: base }, raw(deepNesting(r)), raw('1e400'), raw('"\\ud800"')]);
      return { text: spliceRaw(JSON.stringify(w)), ct, note: 'whole' };
    }
    case 'truncate': {
      const t = JSON.stringify(base ?? {});
      return { text: t.slice(0, r.int(0, Math.max(0, t.length - 1))), ct, note: 'truncated' };
    }
    case 'text': {
      const t = JSON.stringify(base ?? {});
      const variant = r.int(0, 10);
      const buf = (b: Buffer) => ({ text: b, ct, note: `text${variant}` });
      switch (variant) {
        case 0: return { text: `\ufeff${t}`, ct, note: 'bom' };
        case 1: return { text: `${t}}`, ct, note: 'trailing garbage' };
        case 2: return { text: `/* c */${t}`, ct, note: 'comment' };
        case 3: return { text: t.replace(/"/g, "'"), ct, note: 'single quotes' };
        case 4: return { text: t.replace(/:(\d+)/, ':NaN'), ct, note: 'NaN literal' };
        case 5: return { text: t.replace(/}$/, ',}'), ct, note: 'trailing comma' };
        case 6: return buf(Buffer.concat([Buffer.from(t.slice(0, Math.floor(t.length / 2))), Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]), Buffer.from(t.slice(Math.floor(t.length / 2)))]));
        case 7: return { text: '', ct, note: 'empty' };
        case 8: return { text: ' \n\t ', ct, note: 'whitespace' };
        case 9: return buf(r.bytes(r.int(1, 200)));
        default: return { text: `${t}\n${t}`, ct, note: 'two documents' };
      }
    }
    case 'content-type': {
      const c = r.pick([...CONTENT_TYPES, null]);
      return { text: JSON.stringify(base ?? {}), ct: c, note: 'content-type' };
    }
    case 'encoding': {
      const t = JSON.stringify(base ?? {});
      const which = r.int(0, 4);
      if (which === 0) return { text: zlib.gzipSync(t), ct, enc: 'gzip', note: 'gzip' };
      if (which === 1) return { text: r.bytes(64), ct, enc: 'gzip', note: 'gzip garbage' };
      if (which === 2) return { text: zlib.gzipSync(Buffer.alloc(8 << 20, 0x20)), ct, enc: 'gzip', note: 'gzip bomb (8 MB of spaces)' };
      return { text: t, ct, enc: r.pick(['br', 'deflate', 'zstd', 'compress', 'gzip, gzip', 'identity', 'x-unknown']), note: 'content-encoding' };
    }
    case 'oversize': {
      if (op.template === '/flows/batch-delete') {
        const ids = r.chance(0.5) ? Array.from({ length: 200_001 }, (_, i) => i + 1) : Array.from({ length: 700_000 }, (_, i) => i + 1);
        return { text: JSON.stringify({ ids }), ct, note: `ids ×${ids.length}` };
      }
      const v = clone();
      if (v && typeof v === 'object' && !Array.isArray(v)) v.pad = 'x'.repeat(r.pick([60_000, 70_000, 300_000]));
      return { text: JSON.stringify(v), ct, note: 'oversize' };
    }
    case 'dup-key': {
      const t = JSON.stringify(base ?? {});
      const dup = r.pick(['"action":{"type":"BOGUS"},', '"action":null,', '"ids":[],', '"precedence":-1,', '"__proto__":{"type":"PASS"},']);
      return { text: t.startsWith('{') ? `{${dup}${t.slice(1)}` : t, ct, note: 'duplicate key' };
    }
  }
}

function buildRest(op: RestOp, r: Rng, spec: Spec, st: RestState): BuiltRequest {
  const valid = op.undocumented ? false : r.chance(0.4);
  // Which part a hostile request spoils: the path, the query or the body (at least one).
  const parts = ['path', 'query', 'body'].filter((p) => (p === 'path' ? op.params.some((x) => x.in === 'path') : p === 'query' ? op.params.some((x) => x.in === 'query') : !!op.body));
  const spoil = valid || !parts.length ? null : r.pick(parts);
  let url = op.template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const p = op.params.find((x) => x.name === name && x.in === 'path') ?? { name, in: 'path' };
    return pathValue(p, r, spec, st, spoil !== 'path' || r.chance(0.2));
  });
  url += queryString(op, r, spec, spoil !== 'query' && (valid || r.chance(0.8)));
  const headers: Record<string, string> = { accept: r.chance(0.9) ? 'application/json' : r.pick(['text/html', '*/*', 'application/xml', 'application/problem+json']) };
  let body: Buffer | null = null;
  let note = valid ? 'valid' : spoil ?? 'stray';
  if (op.body) {
    const base = validBody(op, r, spec, st);
    if (spoil === 'body') {
      const h = hostileBody(op, r, base);
      body = Buffer.isBuffer(h.text) ? h.text : Buffer.from(h.text);
      if (h.ct !== null) headers['content-type'] = h.ct;
      if (h.enc) headers['content-encoding'] = h.enc;
      note = `body:${h.note}`;
    } else if (r.chance(op.body.required && !valid ? 0.05 : 0) ) {
      body = null;
      note = 'no body';
    } else {
      body = Buffer.from(JSON.stringify(base));
      headers['content-type'] = 'application/json';
    }
  } else if (op.mutating && !['HEAD', 'OPTIONS', 'GET'].includes(op.method) && r.chance(0.3)) {
    body = Buffer.from(spliceRaw(JSON.stringify(hostileValue(r) ?? null)));
    headers['content-type'] = 'application/json';
  }
  const bodyText = body ? (headers['content-encoding'] ? `<${body.length} bytes ${headers['content-encoding']}>` : body.toString('utf8')) : '';
  const desc = `${op.method} ${url}${headers['content-type'] !== undefined ? ` [${headers['content-type'] || 'empty content-type'}]` : body ? ' [no content-type]' : ''} (${note})${body ? ` ${bodyText}` : ''}`;
  return { method: op.method, url, headers, body, desc };
}

interface Answer { status: number; ct: string; text: string; error?: string }

async function send(base: string, req: BuiltRequest): Promise<Answer> {
  try {
    const res = await fetch(base + req.url, {
      method: req.method, headers: req.headers, body: req.body ? new Uint8Array(req.body) : undefined,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), redirect: 'manual',
    });
    const ct = res.headers.get('content-type') ?? '';
    // GET /events answers with a stream that stays open (server-sent events): answered.
    if (ct.startsWith('text/event-stream')) {
      await res.body?.cancel();
      return { status: res.status, ct, text: '' };
    }
    const text = Buffer.from(await res.arrayBuffer()).toString('utf8');
    return { status: res.status, ct, text };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { status: 0, ct: '', text: '', error: `${e.name}: ${e.message}${e.cause ? ` (${e.cause.code ?? ''} ${e.cause.message ?? ''})` : ''}` };
  }
}

interface StoredState { revision: number; rules: number }

async function restState(base: string): Promise<StoredState | null> {
  try {
    const res = await fetch(`${base}/stats`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const s = (await res.json()) as { revision: number; datapath: { rules_in_db: number } };
    return { revision: s.revision, rules: s.datapath.rules_in_db };
  } catch {
    return null;
  }
}

async function alive(base: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3000) });
      if (res.ok) return true;
    } catch {
      /* retry */
    }
    await sleep(200);
  }
  return false;
}

/** Remembers what an accepted request created or removed, so later requests meet it. */
function learnRest(op: RestOp, req: BuiltRequest, a: Answer, st: RestState): void {
  if (a.status < 200 || a.status >= 300) return;
  let body: any = null;
  try {
    body = a.text ? JSON.parse(a.text) : null;
  } catch {
    return;
  }
  const idOf = () => Number(req.url.split('?')[0].split('/').pop());
  if (op.template === '/flows' && op.method === 'POST' && typeof body?.id === 'number') remember(st.flowIds, body.id);
  if (op.template === '/flows/{id}' && op.method === 'DELETE') forget(st.flowIds, idOf());
  if (op.template === '/flows/batch-delete' && req.body) {
    try {
      for (const id of JSON.parse(req.body.toString()).ids ?? []) forget(st.flowIds, id);
    } catch {
      /* gzip etc. */
    }
  }
  if (op.template === '/pcc-rules/{pcc_rule_id}') {
    let id = req.url.split('?')[0].split('/').pop()!;
    try {
      id = decodeURIComponent(id);
    } catch {
      /* kept as sent */
    }
    if (op.method === 'PUT') {
      remember(st.pccIds, id, 100);
      for (const fi of body?.flow_infos ?? []) {
        for (const f of fi.flows ?? []) {
          remember(st.pccFlowIds, f.id);
          if (f.match) remember(st.pccMatches, JSON.stringify({ match: f.match, precedence: f.precedence }), 50);
        }
      }
    }
    if (op.method === 'DELETE') forget(st.pccIds, id);
  }
}

// Wire-level HTTP/1.1: request lines, framing and headers that fetch would never send.

const WIRE_METHODS = ['get', 'G\u0000T', 'PRI', 'CONNECT', 'A'.repeat(40), 'PURGE', 'M-SEARCH', 'TRACE', 'PROPFIND', 'POST '];

function wireTarget(r: Rng, p: string): string {
  return r.weighted<() => string>([
    [14, () => p],
    [1, () => `http://127.0.0.1${p}`],
    [2, () => `http://127.0.0.1:${r.pick(['99999', '-1', '0', '65536', '9'.repeat(20), 'abc', ''])}${p}`],
    [1, () => `http://[${p}`],
    [1, () => `http://[::1]${p}`],
    [1, () => `http://%zz${p}`],
    [1, () => `http://user:pw@127.0.0.1${p}`],
    [1, () => `HTTP://X${p}`],
    [1, () => r.pick(['https://x', 'ftp://x', 'file://', 'javascript:', 'data:,']) + p],
    [1, () => r.pick(['*', '127.0.0.1:80', 'x:80', '?', '#', '', 'http:', 'http://'])],
    [1, () => r.pick([`//${p}`, `${p}#frag`, `${p}\\x`, `${p}?%`, `/%${p}`, `${p}/ü`, `${p}\u007f`, `${p}?a=1#b`, `/./${p}`, `/${'../'.repeat(5)}${p}`, `${p}%00`])],
  ])();
}

interface WireRequest { bytes: Buffer; desc: string; method: string; mutating: boolean; where: string; halfCloseMs: number; documented: Set<string> }

function buildWire(r: Rng, ops: RestOp[], spec: Spec, st: RestState): WireRequest {
  const op = r.pick(ops);
  const p = op.template.replace(/\{([^}]+)\}/g, (_m, name: string) => pathValue(op.params.find((x) => x.name === name) ?? { name, in: 'path' }, r, spec, st, r.chance(0.7)));
  const method = r.chance(0.9) ? op.method : r.pick(WIRE_METHODS);
  const target = wireTarget(r, p);
  const version = r.chance(0.92) ? 'HTTP/1.1' : r.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1x', 'http/1.1', 'HTTP/1', '']);
  const headers: string[] = [];
  if (r.chance(0.93)) headers.push('Host: 127.0.0.1');
  if (r.chance(0.04)) headers.push(`Host: ${r.pick(['other', '', '127.0.0.1:1', 'a'.repeat(300)])}`);
  headers.push('Connection: close');
  let body = op.body ? Buffer.from(JSON.stringify(validBody(op, r, spec, st))) : Buffer.alloc(0);
  if (op.body || r.chance(0.2)) headers.push(`Content-Type: ${r.chance(0.9) ? 'application/json' : r.pick(CONTENT_TYPES)}`);
  let halfCloseMs = 50;
  const framing = body.length ? r.weighted([[8, 'cl'], [2, 'chunked'], [1, 'cl-short'], [1, 'cl-long'], [1, 'cl-bad'], [1, 'cl-dup'], [1, 'cl+te'], [1, 'chunked-bad'], [1, 'te-other']] as const) : r.weighted([[12, 'none'], [1, 'cl-bad'], [1, 'chunked-bad']] as const);
  const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')]);
  switch (framing) {
    case 'cl': headers.push(`Content-Length: ${body.length}`); break;
    case 'chunked': headers.push('Transfer-Encoding: chunked'); body = chunk(body); break;
    case 'cl-short': headers.push(`Content-Length: ${Math.max(0, body.length - r.int(1, 10))}`); break;
    case 'cl-long': headers.push(`Content-Length: ${body.length + r.int(1, 1000)}`); halfCloseMs = 300; break;
    case 'cl-bad': headers.push(`Content-Length: ${r.pick(['-1', 'abc', '+5', ' 5', '0x10', '1e3', '99999999999999999999', '', '5, 5', '5 6'])}`); break;
    case 'cl-dup': headers.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`); break;
    case 'cl+te': headers.push(`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked'); body = chunk(body); break;
    case 'chunked-bad': headers.push('Transfer-Encoding: chunked'); body = Buffer.from(r.pick(['ZZ\r\nabc\r\n0\r\n\r\n', 'FFFFFFFFFFFFFFFF\r\nab\r\n', '5;ext=1\r\n{"a":\r\n0\r\n\r\n', '3\r\nabcdef\r\n0\r\n\r\n', '-1\r\n\r\n', '0\r\n', `${body.length.toString(16)}\r\n${body}`])); break;
    case 'te-other': headers.push(`Transfer-Encoding: ${r.pick(['gzip', 'chunked, identity', 'identity', 'xchunked', 'chunked\u0000'])}`, `Content-Length: ${body.length}`); break;
    case 'none': break;
  }
  const extra = r.weighted<() => string[]>([
    [10, () => []],
    [1, () => ['Bad Header Without Colon']],
    [1, () => ['X Space: 1']],
    [1, () => ['X-Fold: a', ' continued']],
    [1, () => [`X-Nul: a\u0000b`]],
    [1, () => [`X-Big: ${'a'.repeat(r.pick([9000, 20_000]))}`]],
    [1, () => Array.from({ length: r.pick([150, 2500]) }, (_, i) => `X-H${i}: ${i}`)],
    [1, () => ['Expect: 100-continue']],
    [1, () => [`Content-Encoding: ${r.pick(['gzip', 'br', 'zstd', 'x'])}`]],
    [1, () => ['Authorization: Bearer ' + 'x'.repeat(100)]],
    [1, () => [':authority: x']],
  ])();
  headers.push(...extra);
  const head = `${method} ${target} ${version}`.replace(/ +$/, '');
  const bytes = Buffer.concat([Buffer.from(`${head}\r\n${headers.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
  const shown = JSON.stringify(bytes.toString('utf8').replace(/(X-H\d+: \d+\r\n){5,}/g, '<many X-H headers>\r\n').replace(/a{200,}/g, (m) => `<a×${m.length}>`));
  return { bytes, desc: `wire ${shown}`, method, mutating: !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase()), where: `${method.replace(/[^\x21-\x7e]/g, '?')} ${op.template} (wire)`, halfCloseMs, documented: method === op.method ? op.documented : new Set() };
}

/** Sends raw bytes; the first final (non-1xx) response, or status 0 when the server closed without one. */
function sendWire(port: number, w: WireRequest): Promise<Answer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const sock = net.connect(port, HOST);
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(parseWire(Buffer.concat(chunks), error));
    };
    const timer = setTimeout(() => finish('no answer within 3 s'), 3000);
    sock.on('connect', () => {
      sock.write(w.bytes);
      setTimeout(() => !done && sock.end(), w.halfCloseMs);
    });
    sock.on('data', (d) => {
      chunks.push(d);
      // An event stream (GET /events) stays open: its head is the answer.
      const got = Buffer.concat(chunks).toString('latin1');
      const head = got.slice(0, got.indexOf('\r\n\r\n'));
      if (got.includes('\r\n\r\n') && /^content-type: text\/event-stream/im.test(head)) finish();
    });
    sock.on('error', () => finish());
    sock.on('close', () => finish());
  });
}

function parseWire(buf: Buffer, error?: string): Answer {
  let rest = buf;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return { status: 0, ct: '', text: rest.toString('utf8'), error: error ?? 'closed without a response' };
    const head = rest.subarray(0, end).toString('latin1');
    const m = /^HTTP\/\d\.\d (\d{3})/.exec(head);
    if (!m) return { status: 0, ct: '', text: head, error: 'not an HTTP response' };
    const status = Number(m[1]);
    const headers = Object.fromEntries(head.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    let body = rest.subarray(end + 4);
    if (status >= 100 && status < 200) {
      rest = body;
      continue;
    }
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let at = 0;
      for (;;) {
        const nl = body.indexOf('\r\n', at);
        if (nl < 0) break;
        const size = parseInt(body.subarray(at, nl).toString(), 16);
        if (!size) break;
        parts.push(body.subarray(nl + 2, nl + 2 + size));
        at = nl + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
    return { status, ct: headers['content-type'] ?? '', text: body.toString('utf8') };
  }
}

function detailOf(a: Answer): string {
  try {
    const j = JSON.parse(a.text);
    return String(j.detail ?? j.title ?? a.text);
  } catch {
    return a.text;
  }
}

/** The checks every REST answer gets: 5xx, 4xx that is not problem+json, no answer. */
function checkRestAnswer(findings: Findings, where: string, documented: Set<string>, method: string, desc: string, a: Answer): void {
  const told = `${a.status} ${a.ct} ${a.text}`.trim();
  if (!a.status) return;
  if (a.status >= 500 && !documented.has(String(a.status))) {
    findings.add(`5xx|${where.endsWith('(wire)') ? 'wire' : where}|${a.status}|${shape(detailOf(a))}`, `REST ${a.status} from ${where} — request: ${trunc(desc)} — response: ${trunc(told)}`);
  } else if (a.status >= 400 && a.status < 500) {
    let problem: any;
    let ok = /^application\/(problem\+)?json\b/i.test(a.ct);
    if (ok && method !== 'HEAD') {
      try {
        problem = JSON.parse(a.text);
      } catch {
        ok = false;
      }
    }
    if (!ok) findings.add(`notjson|${a.status}|${a.ct}|${shape(a.text.slice(0, 40))}`, `REST ${a.status} from ${where} is not JSON/problem+json (${a.ct || 'no content-type'}) — request: ${trunc(desc)} — response: ${trunc(told || String(a.status))}`);
    else if (problem && typeof problem === 'object' && problem.status !== undefined && problem.status !== a.status)
      findings.add(`problemstatus|${where}|${a.status}`, `REST ${a.status} from ${where} with a problem body whose status is ${problem.status} — request: ${trunc(desc)} — response: ${trunc(told)}`);
  }
}

/** The comparable part of a rule: what an acknowledged write must have stored. */
const ruleCore = (f: any) => JSON.stringify({ match: f?.match, action: f?.action, precedence: f?.precedence ?? null });

async function fuzzRest(base: string, port: number, spec: Spec, n: number, seed: number, deadline: number, log: (s: string) => void): Promise<{ report: FuzzReport['rest']; crashed: boolean }> {
  setupJsf();
  const r = new Rng(seed, 1);
  const ops = restOps(spec);
  const stray = strayOps(spec);
  const findings = new Findings();
  const byStatus: Record<string, number> = {};
  const count = (k: string) => void (byStatus[k] = (byStatus[k] ?? 0) + 1);
  const st: RestState = { flowIds: [], pccIds: [], pccFlowIds: [], pccMatches: [] };
  const postFlows = ops.find((o) => o.method === 'POST' && o.template === '/flows')!;
  // Operations with inputs get more requests; each operation gets some, the first round in order.
  const weights: [number, RestOp][] = [...ops.map((op) => [op.body ? 6 : op.params.length ? 3 : 1, op] as [number, RestOp]), ...stray.map((op) => [0.05, op] as [number, RestOp])];
  let state = await restState(base);
  let crashed = false;
  let sent = 0;
  const crash = async (desc: string): Promise<boolean> => {
    if (await alive(base)) return false;
    crashed = true;
    findings.add('crash', `REST crash: /healthz stopped answering after — request: ${trunc(desc)}`);
    return true;
  };
  /** After a request (or a burst), the stored state: a refusal, or a read, must not change it. */
  const checkState = async (where: string, changesAllowed: boolean, status: number, desc: string, told: string): Promise<boolean> => {
    const after = await restState(base);
    if (!after) return !(await crash(desc));
    if (state && !changesAllowed && (after.revision !== state.revision || after.rules !== state.rules)) {
      findings.add(`state|${where}|${status}|${shape(told.slice(0, 120))}`,
        `REST ${status} from ${where} but the stored state changed (revision ${state.revision}→${after.revision}, rules_in_db ${state.rules}→${after.rules}) — request: ${trunc(desc)} — response: ${trunc(told)}`);
    }
    state = after;
    return true;
  };
  while (sent < n && Date.now() < deadline) {
    const mode = sent < ops.length ? 'op' : r.weighted([[93, 'op'], [4, 'wire'], [3, 'burst']] as const);
    if (mode === 'op') {
      const op = sent < ops.length ? ops[sent] : r.weighted(weights);
      const req = buildRest(op, r, spec, st);
      inFlight = `REST ${req.desc}`;
      const a = await send(base, req);
      sent++;
      trace(`REST ${a.status || a.error} ${trunc(req.desc, 400)} => ${trunc(a.text, 300)}`);
      count(a.status ? String(a.status) : 'no answer');
      const where = `${op.method} ${op.template}`;
      if (!a.status) {
        findings.add(`noanswer|${where}|${shape(a.error ?? '')}`, `REST no answer to ${where}: ${a.error} — request: ${trunc(req.desc)}`);
        if (await crash(req.desc)) break;
      }
      checkRestAnswer(findings, where, op.documented, req.method, req.desc, a);
      learnRest(op, req, a, st);
      const accepted = a.status >= 200 && a.status < 300;
      if (!(await checkState(where, accepted && op.mutating, a.status, req.desc, `${a.status} ${a.text}`))) break;
    } else if (mode === 'wire') {
      const w = buildWire(r, ops, spec, st);
      inFlight = `REST ${w.desc}`;
      const a = await sendWire(port, w);
      sent++;
      trace(`REST ${a.status || a.error} ${trunc(w.desc, 400)} => ${trunc(a.text, 300)}`);
      count(a.status ? `${a.status} (wire)` : 'closed (wire)');
      if (a.error === 'no answer within 3 s') findings.add(`wirehang|${w.where}`, `REST no answer within 3 s to ${w.where} — request: ${trunc(w.desc)}`);
      checkRestAnswer(findings, w.where, w.documented, w.method, w.desc, a);
      const accepted = a.status >= 200 && a.status < 300;
      if (!(await checkState(w.where, accepted && w.mutating, a.status, w.desc, `${a.status} ${a.text}`))) break;
    } else {
      // Concurrent upserts share one transaction (group commit): mix valid rules, the same
      // rule twice, PCC-owned matches (409) and hostile bodies; every answer is checked, every
      // acknowledged write must be stored as acknowledged, and an all-refused burst changes nothing.
      const k = Math.min(r.int(2, 10), n - sent);
      const reqs: BuiltRequest[] = [];
      for (let i = 0; i < k; i++) {
        const pick = r.weighted([[5, 'fresh'], [2, 'repeat'], [2, 'owned']] as const);
        if (pick === 'repeat' && reqs.length) reqs.push(r.pick(reqs));
        else if (pick === 'owned' && st.pccMatches.length) {
          const o = JSON.parse(r.pick(st.pccMatches));
          const body = Buffer.from(JSON.stringify({ ...o, action: { type: r.pick(['PASS', 'DROP']) } }));
          reqs.push({ method: 'POST', url: '/flows', headers: { 'content-type': 'application/json' }, body, desc: `POST /flows (burst: a PCC rule's match) ${body}` });
        } else reqs.push(buildRest(postFlows, r, spec, st));
      }
      inFlight = `REST burst of ${k}: ${reqs.map((q) => q.desc).join(' | ')}`;
      const answers = await Promise.all(reqs.map((q) => send(base, q)));
      sent += k;
      const ids = new Map<number, { desc: string; body: any; n: number }>();
      answers.forEach((a, i) => {
        const desc = `${reqs[i].desc} (burst of ${k})`;
        trace(`REST ${a.status || a.error} ${trunc(desc, 400)} => ${trunc(a.text, 300)}`);
        count(a.status ? String(a.status) : 'no answer');
        if (!a.status) findings.add(`noanswer|burst|${shape(a.error ?? '')}`, `REST no answer in a burst of ${k} POST /flows: ${a.error} — request: ${trunc(desc)}`);
        checkRestAnswer(findings, 'POST /flows (burst)', postFlows.documented, 'POST', desc, a);
        learnRest(postFlows, reqs[i], a, st);
        if (a.status === 200 || a.status === 201) {
          try {
            const b = JSON.parse(a.text);
            const prev = ids.get(b.id);
            ids.set(b.id, { desc, body: b, n: (prev?.n ?? 0) + 1 });
          } catch {
            /* checked above */
          }
        }
      });
      for (const [id, w] of ids) {
        if (w.n > 1) continue; // the same rule twice in a burst: the later write wins
        const g = await send(base, { method: 'GET', url: `/flows/${id}`, headers: {}, body: null, desc: '' });
        if (g.status !== 200) findings.add(`lost|${g.status}`, `REST acknowledged write not stored: POST /flows answered ${w.body.id} in a burst, GET /flows/${id} → ${g.status} — request: ${trunc(w.desc)} — response: ${trunc(g.text)}`);
        else if (ruleCore(JSON.parse(g.text)) !== ruleCore(w.body))
          findings.add('lostdiff', `REST acknowledged write stored differently: burst answer ${trunc(ruleCore(w.body), 120)} vs GET /flows/${id} ${trunc(ruleCore(JSON.parse(g.text)), 120)} — request: ${trunc(w.desc)}`);
      }
      const anyAccepted = answers.some((a) => a.status >= 200 && a.status < 300);
      if (!(await checkState('POST /flows (burst)', anyAccepted, 0, inFlight, answers.map((a) => a.status).join(',')))) break;
    }
    if (Math.floor(sent / 1000) !== Math.floor((sent - 1) / 1000) && sent > 0) log(`rest: ${sent}/${n} requests, ${findings.size} finding(s)`);
  }
  if (!crashed && !(await alive(base))) {
    crashed = true;
    findings.add('crash', 'REST crash: /healthz stopped answering at the end of the REST phase');
  }
  return { report: { requests: sent, by_status: byStatus, findings: findings.list() }, crashed };
}

// ---------------------------------------------------------------------------------------------
// gRPC from pcf.proto: message shapes from proto-loader's descriptors.

interface FieldDesc { name: string; number: number; label: string; type: string; typeName: string }
interface MethodDesc { name: string; path: string; requestType: string; responseStream: boolean; serialize: (v: unknown) => Buffer; mutating: boolean }

const MUTATING_RPC = new Set(['UpsertFlow', 'DeleteFlow', 'BatchUpsertFlows', 'BatchDeleteFlows', 'UpsertPccRule', 'DeletePccRule']);
const CODE_NAME: Record<number, string> = Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

class ProtoModel {
  readonly def: protoLoader.PackageDefinition;
  readonly methods: MethodDesc[];
  constructor() {
    this.def = protoLoader.loadSync(PROTO_FILES, { ...PROTO_OPTIONS, includeDirs: [PROTO_DIR] });
    const svc = this.def['pcf.v1.PcfControl'] as unknown as Record<string, any>;
    this.methods = Object.entries(svc).map(([name, m]) => ({
      name, path: m.path, requestType: m.requestType.type.name, responseStream: !!m.responseStream,
      serialize: m.requestSerialize, mutating: MUTATING_RPC.has(name),
    }));
  }
  fields(msg: string): FieldDesc[] {
    return ((this.def[`pcf.v1.${msg}`] as any)?.type?.field ?? []) as FieldDesc[];
  }
  enumValues(name: string): { name: string; number: number }[] {
    return ((this.def[`pcf.v1.${name}`] as any)?.type?.value ?? []) as { name: string; number: number }[];
  }
}

interface GrpcState { flowIds: number[]; pccIds: string[]; pccFlowIds: number[]; pccMatches: string[]; revision: number }

/** A plausible value of a scalar field, by its name first, then its type. */
function scalarValid(f: FieldDesc, r: Rng, st: GrpcState, model: ProtoModel): unknown {
  switch (f.name) {
    case 'src_ip': case 'dst_ip': return ipv4(r);
    case 'src': case 'dst': return prefix(r);
    case 'ue_ip': case 'snat_ip': case 'dnat_ip': return ip(r);
    case 'flow_description': return flowDescription(r);
    case 'pcc_rule_id': return st.pccIds.length && r.chance(0.5) ? r.pick(st.pccIds) : pccId(r);
    case 'from_revision': return r.weighted([[3, () => st.revision], [2, () => Math.max(0, st.revision - r.int(0, 50))], [1, () => 0], [1, () => st.revision + r.int(1, 3)]] as const)();
    case 'id': return st.flowIds.length && r.chance(0.7) ? r.pick(st.flowIds) : r.int(1, 3000);
    case 'ids': return st.flowIds.length && r.chance(0.8) ? r.pick(st.flowIds) : r.int(1, 3000);
    case 'limit': return r.pick([0, 1, 10, 100, 1000]);
    case 'cursor': return f.type === 'TYPE_STRING' ? (st.pccIds.length && r.chance(0.5) ? r.pick(st.pccIds) : '') : r.int(0, 3000);
    case 'precedence': return r.chance(0.8) ? r.int(0, 1000) : r.int(0, 4294967295);
    case 'ttl_delta': return r.int(-128, 127);
    case 'mark': return r.int(1, 4294967295);
    case 'queue_id': return r.int(0, 63);
    case 'proto': return r.pick([1, 6, 17, 6, 17, 58, 132]);
  }
  if (/port|^first$|^last$/.test(f.name)) return port(r);
  switch (f.type) {
    case 'TYPE_ENUM': {
      const vals = model.enumValues(f.typeName).map((v) => v.name);
      return r.chance(0.92) ? r.pick(vals.filter((v) => !v.endsWith('_UNSPECIFIED'))) : vals[0];
    }
    case 'TYPE_BOOL': return r.chance(0.3);
    case 'TYPE_STRING': return r.pick(['', 'x', 'pcc-1', '198.18.0.1']);
    case 'TYPE_SINT32': case 'TYPE_INT32': return r.int(-1000, 1000);
    default: return r.int(0, 1000);
  }
}

/** Fields a well-behaved client sets (proto3 has no `required`: the API's meaning does). */
const USUAL_FIELDS: Record<string, readonly string[]> = {
  FlowKey: ['src_ip', 'dst_ip', 'src_port', 'dst_port', 'proto'],
  PortRange: ['first', 'last'],
  FlowAction: ['type'],
  FlowInfo: ['flow_description'],
  DeleteFlowRequest: ['id'],
  GetFlowRequest: ['id'],
  DeletePccRuleRequest: ['pcc_rule_id'],
  GetPccRuleRequest: ['pcc_rule_id'],
  BatchDeleteFlowsRequest: ['ids'],
  BatchUpsertFlowsRequest: ['flows'],
  UpsertPccRuleRequest: ['pcc_rule_id', 'precedence', 'flow_infos', 'action'],
  // Every form of a rule, then cut to one (shapeFlowSpec).
  FlowSpec: ['action', 'key', 'match', 'flow_description'],
  UpsertFlowRequest: ['action', 'key', 'match', 'flow_description'],
};

function messageValid(msg: string, r: Rng, st: GrpcState, model: ProtoModel, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of model.fields(msg)) {
    if (f.name === 'flows' && msg === 'FlowInfo') continue; // answers only
    if (f.name === 'counters') continue;
    const present = f.label === 'LABEL_REPEATED' ? r.chance(0.85) : r.chance(f.type === 'TYPE_MESSAGE' ? 0.6 : 0.5);
    const wanted = USUAL_FIELDS[msg]?.includes(f.name) && r.chance(0.9);
    if (!present && !wanted) continue;
    const one = () => (f.type === 'TYPE_MESSAGE' ? (depth > 6 ? {} : messageValid(f.typeName, r, st, model, depth + 1)) : scalarValid(f, r, st, model));
    if (f.label === 'LABEL_REPEATED') {
      const n = f.name === 'flows' ? r.int(1, 5) : f.name === 'flow_infos' ? r.int(1, 4) : r.int(1, 4);
      out[f.name] = Array.from({ length: n }, one);
    } else out[f.name] = one();
  }
  if (msg === 'FlowSpec' || msg === 'UpsertFlowRequest') shapeFlowSpec(out, r, true);
  if (msg === 'UpsertPccRuleRequest' && out.action) shapeAction(out.action as Record<string, any>, r);
  if (msg === 'PortRange' && typeof out.first === 'number' && typeof out.last === 'number' && out.first > out.last) [out.first, out.last] = [out.last, out.first];
  return out;
}

/** Extreme values a field's wire type can still carry (the client's serializer keeps them). */
function scalarHostile(f: FieldDesc, r: Rng, model: ProtoModel): unknown {
  switch (f.type) {
    case 'TYPE_UINT32': return r.pick([0, 1, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 4294967295]);
    case 'TYPE_UINT64': return r.pick<unknown>([0, 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, '18446744073709551615', '9223372036854775808', '9223372036854775807']);
    case 'TYPE_SINT32': case 'TYPE_INT32': return r.pick([-2147483648, 2147483647, -129, 128, -1, 0]);
    case 'TYPE_STRING': return r.pick(HOSTILE_STRINGS);
    case 'TYPE_ENUM': return r.pick<unknown>([99, -1, 2147483647, 4, 'ACTION_TYPE_UNSPECIFIED', 'FLOW_DIRECTION_UNSPECIFIED', ...model.enumValues(f.typeName).map((v) => v.name)]);
    case 'TYPE_BOOL': return r.chance(0.5);
    default: return 0;
  }
}

/** Paths to every field of a message object, with its descriptor. */
function fieldPaths(msg: string, obj: any, model: ProtoModel, at: PathEl[] = [], out: { path: PathEl[]; f: FieldDesc }[] = []): { path: PathEl[]; f: FieldDesc }[] {
  for (const f of model.fields(msg)) {
    out.push({ path: [...at, f.name], f });
    const v = obj?.[f.name];
    if (f.type !== 'TYPE_MESSAGE' || v === undefined) continue;
    if (Array.isArray(v)) v.forEach((x, i) => fieldPaths(f.typeName, x, model, [...at, f.name, i], out));
    else fieldPaths(f.typeName, v, model, [...at, f.name], out);
  }
  return out;
}

function messageHostile(msg: string, r: Rng, st: GrpcState, model: ProtoModel): Record<string, unknown> {
  const v = messageValid(msg, r, st, model) as any;
  const n = r.int(1, 3);
  for (let i = 0; i < n; i++) {
    const paths = fieldPaths(msg, v, model);
    if (!paths.length) break;
    const { path: p, f } = r.pick(paths);
    if (f.label === 'LABEL_REPEATED') {
      const big = r.pick([0, 1000, 20_000, 200_001]);
      if (f.type === 'TYPE_MESSAGE') setAt(v, p, big <= 1000 ? Array.from({ length: r.pick([0, 65, 300]) }, () => messageValid(f.typeName, r, st, model, 5)) : []);
      else setAt(v, p, Array.from({ length: big }, (_, k) => (f.name === 'ids' ? (k % 3 === 0 ? (st.flowIds[k % Math.max(1, st.flowIds.length)] ?? k + 1) : k + 1) : scalarHostile(f, r, model))));
    } else if (f.type === 'TYPE_MESSAGE') setAt(v, p, r.chance(0.5) ? {} : messageValid(f.typeName, r, st, model, 5));
    else if (r.chance(0.15)) deleteAt(v, p);
    else setAt(v, p, scalarHostile(f, r, model));
  }
  return v;
}

// Raw protobuf wire bytes: what no well-behaved client sends.

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}
const tag = (field: number, wt: number) => varint(BigInt((field << 3) | wt) & 0xffffffffn);
const lenDelim = (field: number, payload: Buffer | number[]) => Buffer.from([...tag(field, 2), ...varint(BigInt(payload.length)), ...payload]);

function wireHostile(msg: string, r: Rng, st: GrpcState, model: ProtoModel, depth = 0): Buffer {
  const parts: Buffer[] = [];
  const fields = model.fields(msg);
  const count = r.int(0, Math.max(2, fields.length + 1));
  for (let i = 0; i < count; i++) {
    const f = fields.length && r.chance(0.85) ? r.pick(fields) : null;
    const num = f ? f.number : r.pick([15, 16, 99, 1000, 536870911, 19000]);
    const choice = r.weighted([
      [4, 'right'], [3, 'wrongtype'], [1, 'overlong'], [1, 'badlen'], [1, 'badwt'], [1, 'badutf8'], [1, 'packed'], [1, 'fixed'],
    ] as const);
    switch (choice) {
      case 'right':
        if (!f || f.type === 'TYPE_STRING') parts.push(lenDelim(num, Buffer.from(f ? String(r.chance(0.5) ? scalarValid(f, r, st, model) : r.pick(HOSTILE_STRINGS)) : 'x')));
        else if (f.type === 'TYPE_MESSAGE') parts.push(lenDelim(num, depth < 4 ? wireHostile(f.typeName, r, st, model, depth + 1) : r.bytes(r.int(0, 16))));
        else if (f.type === 'TYPE_SINT32') parts.push(Buffer.from([...tag(num, 0), ...varint(BigInt(r.pick([0, 1, 254, 255, 256, 0xfffffffe, 0xffffffff])))]));
        else parts.push(Buffer.from([...tag(num, 0), ...varint(r.pick([0n, 1n, 65535n, 65536n, 0xffffffffn, 0x100000000n, (1n << 53n) + 1n, (1n << 63n), (1n << 64n) - 1n, -1n]))]));
        break;
      case 'wrongtype':
        if (f && (f.type === 'TYPE_STRING' || f.type === 'TYPE_MESSAGE')) parts.push(Buffer.from([...tag(num, 0), ...varint(BigInt(r.int(0, 1e9)))]));
        else parts.push(lenDelim(num, r.bytes(r.int(0, 24))));
        break;
      case 'overlong': parts.push(Buffer.from([...tag(num, 0), ...Array(r.int(10, 12)).fill(0xff), 0x01])); break;
      case 'badlen': parts.push(Buffer.from([...tag(num, 2), ...varint(BigInt(r.pick([100, 1 << 20, 0x7fffffff, 0xffffffff]))), ...r.bytes(r.int(0, 8))])); break;
      case 'badwt': parts.push(Buffer.from([...tag(num, r.pick([3, 4, 6, 7])), ...r.bytes(r.int(0, 8))])); break;
      case 'badutf8': parts.push(lenDelim(num, [0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80])); break;
      case 'packed': parts.push(lenDelim(num, [...varint(1n), ...varint(300n), ...varint(0xffffffffn), ...varint(-1n)])); break;
      case 'fixed': parts.push(Buffer.from([...tag(num, r.pick([1, 5])), ...r.bytes(r.pick([8, 4, 2]))])); break;
    }
  }
  if (r.chance(0.1)) parts.push(Buffer.from([0x00, ...r.bytes(3)])); // field number 0
  let buf = Buffer.concat(parts);
  if (depth === 0 && buf.length && r.chance(0.15)) buf = buf.subarray(0, r.int(0, buf.length - 1));
  return buf;
}

interface CallResult { code: number; details: string; data?: any; events?: number }

function unary(client: PcfClient, method: string, req: unknown): Promise<CallResult> {
  return new Promise((resolve) => {
    byName(client)[method](req, { deadline: Date.now() + REQUEST_TIMEOUT_MS }, (err: grpc.ServiceError | null, res: unknown) =>
      resolve(err ? { code: err.code, details: err.details ?? err.message } : { code: 0, details: '', data: res }));
  });
}

function rawUnary(client: grpc.Client, p: string, buf: Buffer): Promise<CallResult> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(p, (b: Buffer) => b, (b: Buffer) => b, buf, { deadline: Date.now() + REQUEST_TIMEOUT_MS }, (err: grpc.ServiceError | null) =>
      resolve(err ? { code: err.code, details: err.details ?? err.message } : { code: 0, details: '' }));
  });
}

/** A watch, cancelled after `ms`: CANCELLED is then the expected end, any earlier status is the answer. */
function watch(stream: grpc.ClientReadableStream<any>, ms: number): Promise<CallResult> {
  return new Promise((resolve) => {
    let events = 0;
    let cancelled = false;
    let done = false;
    const finish = (r: CallResult) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      resolve({ ...r, events });
    };
    const t = setTimeout(() => {
      cancelled = true;
      stream.cancel();
      setTimeout(() => finish({ code: grpc.status.OK, details: 'cancelled by the fuzzer' }), 2000).unref();
    }, ms);
    stream.on('data', () => void events++);
    stream.on('error', (err: grpc.ServiceError) => finish(cancelled && err.code === grpc.status.CANCELLED ? { code: grpc.status.OK, details: 'cancelled by the fuzzer' } : { code: err.code, details: err.details ?? err.message }));
    stream.on('end', () => finish({ code: grpc.status.OK, details: 'ended' }));
  });
}

async function grpcRevision(client: PcfClient): Promise<number | null> {
  const r = await unary(client, 'GetStats', {});
  return r.code === 0 ? Number(r.data?.revision ?? 0) : null;
}

function learnGrpc(m: MethodDesc, req: any, res: CallResult, st: GrpcState): void {
  if (res.code !== 0 || !res.data) return;
  const d = res.data;
  if (m.name === 'UpsertFlow' && d.flow?.id) remember(st.flowIds, Number(d.flow.id));
  if (m.name === 'BatchUpsertFlows') for (const id of d.ids ?? []) remember(st.flowIds, Number(id));
  if (m.name === 'DeleteFlow') forget(st.flowIds, Number(req?.id));
  if (m.name === 'BatchDeleteFlows') for (const id of req?.ids ?? []) forget(st.flowIds, Number(id));
  if (m.name === 'UpsertPccRule' && d.pcc_rule) {
    remember(st.pccIds, String(d.pcc_rule.pcc_rule_id), 100);
    for (const fi of d.pcc_rule.flow_infos ?? []) {
      for (const f of fi.flows ?? []) {
        remember(st.pccFlowIds, Number(f.id));
        remember(st.pccMatches, JSON.stringify({ match: f.match, precedence: f.precedence }), 50);
      }
    }
  }
  if (m.name === 'DeletePccRule') forget(st.pccIds, String(req?.pcc_rule_id));
}

// Raw HTTP/2 to the gRPC port: framing, compression and headers no grpc-js client sends.

const frame = (payload: Buffer, flag = 0, len = payload.length) => {
  const h = Buffer.alloc(5);
  h[0] = flag;
  h.writeUInt32BE(len >>> 0, 1);
  return Buffer.concat([h, payload]);
};
let gzipBomb: Buffer | null = null;
const bomb = () => (gzipBomb ??= zlib.gzipSync(Buffer.alloc(40 << 20)));

interface H2Request { path: string; headers: Record<string, string>; body: Buffer; desc: string; method: MethodDesc | null }

function buildH2(r: Rng, model: ProtoModel, st: GrpcState): H2Request {
  const m = r.pick(model.methods);
  const path = r.chance(0.9) ? m.path : r.pick(['/pcf.v1.PcfControl/Nope', '/pcf.v1.WorkerReport/Report', '/', '/pcf.v1.PcfControl/', '//pcf.v1.PcfControl/GetStats',
    '/pcf.v1.PcfControl/GetStats?x=1', '/PCF.V1.PCFCONTROL/GETSTATS', `${m.path}/`, `${m.path}%00`, '/grpc.health.v1.Health/Check', '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo']);
  let msg: Buffer;
  try {
    msg = r.chance(0.7) ? m.serialize(messageValid(m.requestType, r, st, model)) : wireHostile(m.requestType, r, st, model);
  } catch {
    msg = wireHostile(m.requestType, r, st, model);
  }
  const encoding = r.weighted([[6, null], [2, 'gzip'], [1, 'deflate'], [1, 'identity'], [1, r.pick(['zstd', 'snappy', 'gzip, deflate', '', 'GZIP'])]] as const);
  const compress = (b: Buffer) => (encoding === 'deflate' ? zlib.deflateSync(b) : zlib.gzipSync(b));
  const framing = r.weighted([[6, 'plain'], [2, 'compressed'], [2, 'compressed-garbage'], [1, 'flag'], [1, 'len-long'], [1, 'len-short'], [1, 'two'], [1, 'none'], [1, 'partial'], [1, 'huge'], [1, 'empty-compressed'], [1, 'bomb'], [1, 'split']] as const);
  let body: Buffer;
  switch (framing) {
    case 'plain': body = frame(msg); break;
    case 'compressed': body = frame(compress(msg), 1); break;
    case 'compressed-garbage': body = frame(msg.length ? msg : r.bytes(8), 1); break;
    case 'flag': body = frame(msg, r.pick([2, 3, 128, 255])); break;
    case 'len-long': body = frame(msg, 0, msg.length + r.int(1, 100)); break;
    case 'len-short': body = frame(msg, 0, Math.max(0, msg.length - r.int(1, 5))); break;
    case 'two': body = Buffer.concat([frame(msg), frame(msg)]); break;
    case 'none': body = Buffer.alloc(0); break;
    case 'partial': body = frame(msg).subarray(0, r.int(1, 4)); break;
    case 'huge': body = frame(msg, 0, r.pick([0x7fffffff, 0xffffffff, (32 << 20) + 1])); break;
    case 'empty-compressed': body = frame(Buffer.alloc(0), 1); break;
    case 'bomb': body = frame(bomb(), 1); break;
    case 'split': body = frame(msg); break;
  }
  const headers: Record<string, string> = {
    ':method': r.chance(0.95) ? 'POST' : r.pick(['GET', 'PUT', 'OPTIONS']),
    ':path': path,
  };
  const ct = r.chance(0.9) ? 'application/grpc' : r.pick(['application/grpc+proto', 'application/grpc+json', 'application/json', 'text/plain', 'application/grpc-web', '']);
  if (ct) headers['content-type'] = ct;
  if (r.chance(0.92)) headers.te = 'trailers';
  if (encoding !== null && (framing === 'compressed' || framing === 'compressed-garbage' || framing === 'bomb' || framing === 'empty-compressed' || r.chance(0.3))) headers['grpc-encoding'] = encoding ?? 'gzip';
  if (framing === 'bomb' && !headers['grpc-encoding']) headers['grpc-encoding'] = 'gzip';
  if (r.chance(0.1)) headers['grpc-timeout'] = r.pick(['abc', '-1S', '99999999H', '0n', '1n', '100000000S', '', '1', '5M', '1.5S']);
  r.weighted<() => void>([
    [10, () => {}],
    [1, () => void (headers['x-big'] = 'a'.repeat(r.pick([4000, 12_000])))],
    [1, () => void (headers['grpc-accept-encoding'] = r.pick(['zstd', '', 'gzip;q=x', 'a'.repeat(500)]))],
    [1, () => void (headers.authorization = r.pick(['Bearer', 'Bearer ' + 'x'.repeat(2000), 'Basic Og==', '']))],
    [1, () => void (headers['grpc-status'] = '0')],
    [1, () => void (headers['x-bin'] = 'not-base64')],
    [1, () => void (headers['x-meta-bin'] = r.pick(['%%%', '====', '']))],
  ])();
  const hdrShown = Object.entries(headers).filter(([k]) => k !== ':method' || headers[k] !== 'POST').map(([k, v]) => `${k}: ${trunc(v, 40)}`).join(', ');
  const desc = `HTTP/2 ${path} {${hdrShown}} framing=${framing} body(${body.length})=${body.subarray(0, 60).toString('hex')}`;
  return { path, headers, body, desc, method: path === m.path ? m : null };
}

interface H2Result { label: string; grpcCode: number | null; details: string; hang: boolean }

function sendH2(getSession: () => http2.ClientHttp2Session, q: H2Request, split: boolean): Promise<H2Result> {
  // A server stream (WatchFlows) stays open and sends no headers before its first event.
  const streaming = !!q.method?.responseStream || q.path.includes('WatchFlows');
  return new Promise((resolve) => {
    let done = false;
    let stream: http2.ClientHttp2Stream;
    let hdrs: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const finish = (hang = false) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const g = trailers['grpc-status'] ?? hdrs['grpc-status'];
      const details = decodeURIComponent(String(trailers['grpc-message'] ?? hdrs['grpc-message'] ?? '').replace(/%(?![0-9a-fA-F]{2})/g, '%25'));
      if (g !== undefined) resolve({ label: CODE_NAME[Number(g)] ?? `grpc-status ${g}`, grpcCode: Number(g), details, hang });
      else if (hdrs[':status']) resolve({ label: `HTTP ${hdrs[':status']}${Number(hdrs[':status']) === 200 ? ' (open stream)' : ''}`, grpcCode: null, details, hang });
      else resolve({ label: hang ? 'no answer' : streaming ? 'open stream' : `reset ${stream?.rstCode ?? ''}`.trim(), grpcCode: null, details, hang });
    };
    const timer = setTimeout(() => {
      try {
        stream?.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        /* gone */
      }
      // Headers without a status yet: an open stream (WatchFlows), cancelled here; no headers at all: a hang.
      finish(!streaming && !hdrs[':status']);
    }, streaming ? 200 : 1000);
    try {
      stream = getSession().request(q.headers);
    } catch (err) {
      done = true;
      clearTimeout(timer);
      resolve({ label: 'not sent', grpcCode: null, details: (err as Error).message, hang: false });
      return;
    }
    stream.on('response', (h) => void (hdrs = h));
    stream.on('trailers', (t) => void (trailers = t));
    stream.on('data', () => {});
    stream.on('error', () => {});
    stream.on('close', () => finish());
    if (split && q.body.length > 2) {
      const cut = Math.floor(q.body.length / 2);
      stream.write(q.body.subarray(0, cut));
      setTimeout(() => !stream.destroyed && stream.end(q.body.subarray(cut)), 5);
    } else stream.end(q.body);
  });
}

/** A gRPC Match from a REST one (ports "lo-hi" or a number, proto a number). */
function grpcMatch(m: any): any {
  const ports = (p: unknown) => (p === undefined ? undefined : typeof p === 'number' ? { first: p, last: p } : (([a, b]) => ({ first: Number(a), last: Number(b ?? a) }))(String(p).split('-')));
  return JSON.parse(JSON.stringify({ src: m.src, dst: m.dst, src_ports: ports(m.src_ports), dst_ports: ports(m.dst_ports), proto: typeof m.proto === 'number' ? m.proto : undefined }));
}

async function fuzzGrpc(port: number, httpBase: string, n: number, seed: number, deadline: number, log: (s: string) => void): Promise<{ report: FuzzReport['grpc']; crashed: boolean }> {
  const r = new Rng(seed, 2);
  const model = new ProtoModel();
  const client = grpcClient(port);
  const rawClient = new grpc.Client(`${HOST}:${port}`, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': 64 << 20, 'grpc.max_receive_message_length': 64 << 20,
  });
  let session: http2.ClientHttp2Session | null = null;
  const getSession = () => {
    if (!session || session.closed || session.destroyed) {
      session = http2.connect(`http://${HOST}:${port}`);
      session.on('error', () => {});
    }
    return session;
  };
  const findings = new Findings();
  const byCode: Record<string, number> = {};
  const count = (k: string) => void (byCode[k] = (byCode[k] ?? 0) + 1);
  const st: GrpcState = { flowIds: [], pccIds: [], pccFlowIds: [], pccMatches: [], revision: 0 };
  const upsert = model.methods.find((x) => x.name === 'UpsertFlow')!;
  const watches: Promise<void>[] = [];
  let crashed = false;
  let calls = 0;
  const judge = (m: string, res: { code: number; details: string }, desc: string, how = '', deadlineSet = false) => {
    const name = CODE_NAME[res.code] ?? String(res.code);
    // Below the service (raw HTTP/2), the same answer from any method is one finding.
    if (res.code === grpc.status.INTERNAL || res.code === grpc.status.UNKNOWN)
      findings.add(`code|${how ? 'h2' : m}|${res.code}|${shape(res.details)}`, `gRPC ${name} from ${m}${how}: ${trunc(res.details, 200)} — request: ${trunc(desc)}`);
    else if (res.code === grpc.status.DEADLINE_EXCEEDED && !deadlineSet)
      findings.add(`hang|${m}`, `gRPC ${m} did not answer within ${REQUEST_TIMEOUT_MS} ms — request: ${trunc(desc)}`);
  };
  try {
    // What the REST phase stored is there to meet.
    const seen = await unary(client, 'ListFlows', { limit: 1000 });
    for (const f of seen.data?.flows ?? []) (f.pcc_rule_id ? st.pccFlowIds : st.flowIds).push(Number(f.id));
    const pccs = await unary(client, 'ListPccRules', { limit: 100 });
    for (const p of pccs.data?.pcc_rules ?? []) {
      remember(st.pccIds, String(p.pcc_rule_id), 100);
      for (const fi of p.flow_infos ?? []) for (const f of fi.flows ?? []) remember(st.pccMatches, JSON.stringify({ match: f.match, precedence: f.precedence }), 50);
    }
    let revision = (await grpcRevision(client)) ?? 0;
    st.revision = revision;
    /** After a call (or a burst): a refused call, or a read, must not have changed the revision. */
    const checkRevision = async (m: string, changesAllowed: boolean, label: string, details: string, desc: string): Promise<boolean> => {
      const after = await grpcRevision(client);
      if (after === null) {
        if (!(await alive(httpBase)) || (await grpcRevision(client)) === null) {
          crashed = true;
          findings.add('crash', `gRPC crash: GetStats and /healthz stopped answering after — request: ${trunc(desc)}`);
          return false;
        }
        return true;
      }
      if (after !== revision && !changesAllowed)
        findings.add(`state|${m}|${label}|${shape(details)}`, `gRPC ${label} from ${m} but the revision changed (${revision}→${after}): ${trunc(details, 120)} — request: ${trunc(desc)}`);
      revision = after;
      st.revision = after;
      return true;
    };
    const weights: [number, MethodDesc][] = model.methods.map((m) => [m.mutating ? 3 : m.name === 'WatchFlows' ? 1.5 : 1, m]);
    while (calls < n && Date.now() < deadline) {
      const kind = calls < model.methods.length ? 'call' : r.weighted([[93, 'call'], [4, 'h2'], [3, 'burst']] as const);
      if (kind === 'h2') {
        const q = buildH2(r, model, st);
        inFlight = `gRPC ${q.desc}`;
        const escapesBefore = escapes;
        const res = await sendH2(getSession, q, q.desc.includes('framing=split'));
        calls++;
        count(`${res.label} (h2)`);
        trace(`gRPC h2 ${res.label} ${trunc(q.desc, 400)} => ${trunc(res.details, 300)}`);
        const where = q.method?.name ?? q.path;
        if (res.grpcCode !== null) judge(where, { code: res.grpcCode, details: res.details }, q.desc, ' (raw HTTP/2)', q.headers['grpc-timeout'] !== undefined);
        if (res.hang && escapes === escapesBefore) findings.add(`h2hang|${/framing=(\S+)/.exec(q.desc)?.[1]}|${q.headers['grpc-encoding'] ?? ''}`, `gRPC no answer within 1 s (raw HTTP/2) — request: ${trunc(q.desc)}`);
        const ok = res.grpcCode === 0;
        if (!(await checkRevision(`${where} (raw HTTP/2)`, ok && !!q.method?.mutating, res.label, res.details, q.desc))) break;
      } else if (kind === 'burst') {
        // Concurrent UpsertFlow calls share one transaction (group commit): see the REST burst.
        const k = Math.min(r.int(2, 10), n - calls);
        const reqs: any[] = [];
        for (let i = 0; i < k; i++) {
          const pick = r.weighted([[4, 'valid'], [2, 'hostile'], [2, 'repeat'], [2, 'owned']] as const);
          if (pick === 'repeat' && reqs.length) reqs.push(r.pick(reqs));
          else if (pick === 'owned' && st.pccMatches.length) {
            const o = JSON.parse(r.pick(st.pccMatches));
            reqs.push({ match: o.match?.src_ports && typeof o.match.src_ports !== 'object' ? grpcMatch(o.match) : o.match, precedence: o.precedence, action: { type: r.pick(['PASS', 'DROP']) } });
          } else {
            const q = pick === 'hostile' ? messageHostile(upsert.requestType, r, st, model) : messageValid(upsert.requestType, r, st, model);
            try {
              upsert.serialize(q);
              reqs.push(q);
            } catch {
              reqs.push(messageValid(upsert.requestType, r, st, model));
            }
          }
        }
        const descs = reqs.map((q) => `UpsertFlow ${JSON.stringify(q)} (burst of ${k})`);
        inFlight = `gRPC burst of ${k}: ${descs.join(' | ')}`;
        const results = await Promise.all(reqs.map((q) => unary(client, 'UpsertFlow', q)));
        calls += k;
        const ids = new Map<number, { desc: string; flow: any; n: number }>();
        results.forEach((res, i) => {
          const name = CODE_NAME[res.code] ?? String(res.code);
          count(name);
          trace(`gRPC burst ${name} ${trunc(descs[i], 400)} => ${trunc(res.details || JSON.stringify(res.data ?? null), 300)}`);
          judge('UpsertFlow (burst)', res, descs[i]);
          learnGrpc(upsert, reqs[i], res, st);
          if (res.code === 0 && res.data?.flow) {
            const id = Number(res.data.flow.id);
            ids.set(id, { desc: descs[i], flow: res.data.flow, n: (ids.get(id)?.n ?? 0) + 1 });
          }
        });
        for (const [id, w] of ids) {
          if (w.n > 1) continue;
          const g = await unary(client, 'GetFlow', { id });
          if (g.code !== 0) findings.add(`lost|${g.code}`, `gRPC acknowledged write not stored: UpsertFlow answered id ${id} in a burst, GetFlow → ${CODE_NAME[g.code]} ${g.details} — request: ${trunc(w.desc)}`);
          else if (ruleCore(g.data) !== ruleCore(w.flow))
            findings.add('lostdiff', `gRPC acknowledged write stored differently: burst answer ${trunc(ruleCore(w.flow), 120)} vs GetFlow ${trunc(ruleCore(g.data), 120)} — request: ${trunc(w.desc)}`);
        }
        if (!(await checkRevision('UpsertFlow (burst)', results.some((x) => x.code === 0), results.map((x) => CODE_NAME[x.code]).join(','), '', inFlight))) break;
      } else {
        const m = calls < model.methods.length ? model.methods[calls] : r.weighted(weights);
        const mode = r.weighted([[4, 'valid'], [3, 'hostile'], [2, 'wire'], [1, 'garbage']] as const);
        let req: any = null;
        let buf: Buffer | null = null;
        if (mode === 'valid') req = messageValid(m.requestType, r, st, model);
        else if (mode === 'hostile') req = messageHostile(m.requestType, r, st, model);
        else if (mode === 'wire') buf = wireHostile(m.requestType, r, st, model);
        else buf = r.chance(0.1) ? Buffer.alloc(0) : r.bytes(r.int(1, 512));
        if (req) {
          // What the client cannot serialize would fail in the client (INTERNAL there): send bytes.
          try {
            m.serialize(req);
          } catch {
            buf = wireHostile(m.requestType, r, st, model);
            req = null;
          }
        }
        const desc = req
          ? `${m.name} ${JSON.stringify(req, (_k, v) => (Array.isArray(v) && v.length > 20 ? [...v.slice(0, 5), `…(${v.length} items)`] : v))}`
          : `${m.name} raw bytes (${buf!.length}) ${buf!.subarray(0, 120).toString('hex')}`;
        inFlight = `gRPC ${desc}`;
        calls++;
        if (m.responseStream) {
          // Watches run beside the other calls (at most 16 at once), each cancelled after a short while.
          const ms = r.int(20, 300);
          const stream = req ? byName(client)[m.name](req, { deadline: Date.now() + REQUEST_TIMEOUT_MS }) : rawClient.makeServerStreamRequest(m.path, (b: Buffer) => b, (b: Buffer) => b, buf!, { deadline: Date.now() + REQUEST_TIMEOUT_MS });
          watches.push(watch(stream, ms).then((res) => {
            const name = CODE_NAME[res.code] ?? String(res.code);
            count(name);
            trace(`gRPC ${mode} ${name} ${trunc(desc, 400)} => ${trunc(res.details, 300)} (${res.events} events)`);
            judge(m.name, res, desc);
          }));
          if (watches.length >= 16) await watches.shift();
          continue;
        }
        const res = req ? await unary(client, m.name, req) : await rawUnary(rawClient, m.path, buf!);
        const name = CODE_NAME[res.code] ?? String(res.code);
        trace(`gRPC ${mode} ${name} ${trunc(desc, 400)} => ${trunc(res.details || JSON.stringify(res.data ?? null), 300)}`);
        count(name);
        judge(m.name, res, desc);
        learnGrpc(m, req, res, st);
        if (!(await checkRevision(m.name, res.code === 0 && m.mutating, name, res.details, desc))) break;
      }
      if (Math.floor(calls / 1000) !== Math.floor((calls - 1) / 1000) && calls > 0) log(`grpc: ${calls}/${n} calls, ${findings.size} finding(s)`);
    }
    await Promise.all(watches);
    if (!crashed && (await grpcRevision(client)) === null) {
      crashed = true;
      findings.add('crash', 'gRPC crash: GetStats stopped answering at the end of the gRPC phase');
    }
  } finally {
    client.close();
    rawClient.close();
    (session as http2.ClientHttp2Session | null)?.destroy();
  }
  return { report: { calls, by_code: byCode, findings: findings.list() }, crashed };
}

// ---------------------------------------------------------------------------------------------

export async function fuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.log ?? (() => {});
  const start = Date.now();
  const limit = opts.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
  const spec = yaml.load(fs.readFileSync(OPENAPI_FILE, 'utf8')) as Spec;
  const db = tempDb();
  const pinDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-fuzz-nopins-'));
  // An exception that escapes the server's handlers would end a real control plane: it is a
  // crash, charged to the request in flight (this process survives it to report it).
  const escaped = { rest: new Findings(), grpc: new Findings() };
  let phase: 'rest' | 'grpc' = 'rest';
  const onEscape = (kind: string) => (err: unknown) => {
    const e = err as Error;
    escapes++;
    escaped[phase].add(`${kind}|${shape(String(e?.message ?? e))}`, `crash: ${kind} ${trunc(String(e?.stack ?? e).replace(/\n\s*/g, ' | '), 220)} — request: ${trunc(inFlight)}`);
  };
  const onUncaught = onEscape('uncaughtException');
  const onRejection = onEscape('unhandledRejection');
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);
  let cp: Awaited<ReturnType<typeof startInProcess>> | null = null;
  try {
    cp = await startInProcess(pinDir, db.file);
    const base = `http://${HOST}:${cp.httpPort}`;
    log(`control plane: ${base}, gRPC ${HOST}:${cp.grpcPort}; ${opts.requests} REST requests then ${opts.requests} gRPC calls, seed ${opts.seed}`);
    const rest = await fuzzRest(base, cp.httpPort, spec, opts.requests, opts.seed, start + limit / 2, log);
    log(`rest: done, ${rest.report.requests} requests in ${((Date.now() - start) / 1000).toFixed(1)} s`);
    phase = 'grpc';
    const g = rest.crashed
      ? { report: { calls: 0, by_code: {}, findings: [] }, crashed: false }
      : await fuzzGrpc(cp.grpcPort, base, opts.requests, opts.seed, start + limit, log);
    const crashed = rest.crashed || g.crashed || escaped.rest.size > 0 || escaped.grpc.size > 0;
    return {
      rest: { ...rest.report, findings: [...escaped.rest.list(), ...rest.report.findings] },
      grpc: { ...g.report, findings: [...escaped.grpc.list(), ...g.report.findings] },
      crashed,
      seconds: Math.round((Date.now() - start) / 100) / 10,
    };
  } finally {
    try {
      await cp?.close();
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onRejection);
      fs.rmSync(db.dir, { recursive: true, force: true });
      fs.rmSync(pinDir, { recursive: true, force: true });
    }
  }
}

function table(rep: FuzzReport): string {
  const rows = (o: Record<string, number>) => Object.entries(o).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `    ${k.padEnd(20)} ${String(v).padStart(7)}`);
  const lines = [
    `REST  ${rep.rest.requests} requests, ${rep.rest.findings.length} finding(s)`,
    ...rows(rep.rest.by_status),
    `gRPC  ${rep.grpc.calls} calls, ${rep.grpc.findings.length} finding(s)`,
    ...rows(rep.grpc.by_code),
    `crashed: ${rep.crashed ? 'YES' : 'no'}    ${rep.seconds} s`,
  ];
  const all = [...rep.rest.findings.map((f) => `  REST  ${f}`), ...rep.grpc.findings.map((f) => `  gRPC  ${f}`)];
  if (all.length) lines.push('findings:', ...all);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, def: number) => {
    const v = arg(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} ${v}: expected a non-negative integer`);
    return n;
  };
  const json = argv.includes('--json');
  const rep = await fuzz({
    requests: num('--requests', 1000),
    seed: num('--seed', 1),
    timeLimitMs: num('--time-limit', DEFAULT_TIME_LIMIT_MS / 1000) * 1000,
    log: json ? undefined : (s) => process.stderr.write(`${s}\n`),
  });
  process.stdout.write(`${json ? JSON.stringify(rep, null, 2) : table(rep)}\n`);
  return rep.crashed || rep.rest.findings.length || rep.grpc.findings.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (err) => {
      process.stderr.write(`fuzz: ${(err as Error)?.stack ?? err}\n`);
      process.exit(2);
    },
  );
}
