// schema.ts - openapi.yaml's schemas as validators for what does not arrive over HTTP (gRPC,
// callers of the service), so every request is checked against the one schema
// (express-openapi-validator does it for REST with the same Ajv; http.ts marks the bodies it
// passed, markSchemaChecked, so the service does not check them again).
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import yaml from 'js-yaml';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { quote, type FieldError } from './errors.js';

export const OPENAPI_SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../openapi.yaml');

// CommonJS modules under NodeNext: the classes are their default exports.
const Ajv = AjvModule.default;
const addFormats = formatsModule.default;
let ajv: InstanceType<typeof Ajv> | null = null;
const compiled = new Map<string, ValidateFunction>();

/** The validator of components/schemas/<name>. */
function validator(name: string): ValidateFunction {
  let v = compiled.get(name);
  if (v) return v;
  if (!ajv) {
    // strict off: the document holds OpenAPI keywords (paths, nullable with $ref siblings) beside the schemas.
    // verbose: an error carries the value and its schema, which the messages quote.
    ajv = new Ajv({ strict: false, allErrors: true, verbose: true });
    addFormats(ajv);
    ajv.addSchema(yaml.load(fs.readFileSync(OPENAPI_SPEC, 'utf8')) as object, 'openapi');
  }
  v = ajv.getSchema(`openapi#/components/schemas/${name}`);
  if (!v) throw new Error(`openapi.yaml has no schema ${name}`);
  compiled.set(name, v);
  return v;
}

// ---- bodies already checked --------------------------------------------------------------

// A symbol key: JSON, Object.keys and the schema's additionalProperties do not see it, and
// no request can carry one. (A WeakSet cost ~0.3 µs more per body.)
const CHECKED = Symbol('openapi.yaml schema checked');

/** Records that `body` passed openapi.yaml's schema (REST's middleware): the service does not check it again. */
export function markSchemaChecked<T>(body: T): T {
  if (typeof body === 'object' && body !== null) (body as { [CHECKED]?: true })[CHECKED] = true;
  return body;
}

export function isSchemaChecked(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { [CHECKED]?: true })[CHECKED] === true;
}

// ---- errors as the API words them ---------------------------------------------------------

type Schema = Record<string, any>;

const TYPE_WORDS: Record<string, string> = {
  integer: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', object: 'an object', array: 'an array',
};

/** What a value of `s` is, in words ("an integer in 0..65535", "one of tcp, udp, icmp"). */
function describe(s: Schema): string {
  if (typeof s.description === 'string') return s.description.replace(/\.$/, '');
  if (Array.isArray(s.enum)) return `one of ${s.enum.join(', ')}`;
  let t = TYPE_WORDS[s.type] ?? `a ${s.type}`;
  if (s.minimum !== undefined && s.maximum !== undefined) t += ` in ${s.minimum}..${s.maximum}`;
  if (s.pattern) t += ` matching ${s.pattern}`;
  return t;
}

function message(e: ErrorObject): string {
  const v = quote(e.data);
  const parent = (e.parentSchema ?? {}) as Schema;
  switch (e.keyword) {
    case 'type':
      return `${v} is not ${TYPE_WORDS[e.params.type] ?? e.params.type}${parent.nullable ? ' or null' : ''}`;
    case 'enum':
      return `${v} is not one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
    case 'format':
      return `${v} is not ${e.params.format === 'ipv4' ? 'a dotted IPv4 address' : `a valid ${e.params.format}`}`;
    case 'minimum':
    case 'maximum':
      if (parent.minimum !== undefined && parent.maximum !== undefined) return `${v} is not ${parent.type === 'integer' ? 'an integer' : 'a number'} in ${parent.minimum}..${parent.maximum}`;
      return `${v} ${e.message}`;
    case 'oneOf':
    case 'anyOf': {
      const branches = (e.schema as Schema[]).map(describe);
      if ((e.schema as Schema[]).every((b) => Array.isArray(b.enum) && !b.description))
        return `${v} is not one of ${(e.schema as Schema[]).flatMap((b) => b.enum).join(', ')}`;
      return branches.length === 2 ? `${v} is neither ${branches[0]} nor ${branches[1]}` : `${v} is none of: ${branches.join('; ')}`;
    }
    case 'pattern':
      return `${v} does not match ${e.params.pattern}`;
    case 'required':
      return 'required';
    case 'additionalProperties':
      return `not a field here (${Object.keys(parent.properties ?? {}).join(', ') || 'no fields'})`;
    default:
      return e.message ?? 'invalid';
  }
}

/** One error per field: the most telling (a oneOf's own error over its branches', an enum's over a type's). */
const RANK: Record<string, number> = {
  oneOf: 0, anyOf: 0, required: 0, additionalProperties: 0, enum: 1,
  maxLength: 2, minLength: 2, maxItems: 2, minItems: 2, format: 3, minimum: 3, maximum: 3, pattern: 4, type: 5,
};

/**
 * Field errors of `value` against schema `name`, each named `${field}.<path>` as REST names
 * them ("flows[3].action.type", "key.vlan" for an unknown field); `field` '' for a whole
 * request (its own error is then named "body"). At most 10.
 */
export function schemaErrors(name: string, value: unknown, field: string): FieldError[] {
  const v = validator(name);
  if (v(value)) return [];
  const all = v.errors ?? [];
  const combos = all.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  const byField = new Map<string, { rank: number; message: string }>();
  for (const e of all) {
    if (combos.some((c) => c !== e && e.instancePath.startsWith(c.instancePath) && e.schemaPath.startsWith(`${c.schemaPath}/`))) continue;
    let p = e.instancePath;
    if (e.keyword === 'required') p += `/${e.params.missingProperty}`;
    if (e.keyword === 'additionalProperties') p += `/${e.params.additionalProperty}`;
    const at = p.split('/').filter(Boolean).reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), field) || 'body';
    const rank = RANK[e.keyword] ?? 6;
    const prev = byField.get(at);
    if (!prev || rank < prev.rank) byField.set(at, { rank, message: message(e) });
  }
  return [...byField].slice(0, 10).map(([f, x]) => ({ field: f, message: x.message }));
}
