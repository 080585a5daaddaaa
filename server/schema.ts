// schema.ts - openapi.yaml's schemas as validators for what does not arrive over HTTP (gRPC),
// so both transports check a field against the one schema (express-openapi-validator does
// it for REST with the same Ajv).
import AjvModule, { type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import yaml from 'js-yaml';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError, type FieldError } from './errors.js';

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
    ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(yaml.load(fs.readFileSync(OPENAPI_SPEC, 'utf8')) as object, 'openapi');
  }
  v = ajv.getSchema(`openapi#/components/schemas/${name}`);
  if (!v) throw new Error(`openapi.yaml has no schema ${name}`);
  compiled.set(name, v);
  return v;
}

/** Field errors of `value` against schema `name`, each named `${field}.<path>`. */
export function schemaErrors(name: string, value: unknown, field: string): FieldError[] {
  const v = validator(name);
  if (v(value)) return [];
  return (v.errors ?? []).slice(0, 10).map((e) => {
    const at = e.instancePath.split('/').filter(Boolean).reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : `${acc}.${p}`), field);
    return { field: at, message: e.message ?? 'invalid' };
  });
}

export function checkSchema(name: string, value: unknown, field: string): void {
  const errors = schemaErrors(name, value, field);
  if (errors.length) throw new ValidationError(errors);
}
