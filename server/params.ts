// params.ts - integer parameters of openapi.yaml (path and query) as written text must be
// plain decimals. The validator coerces "0x10", " 5", "1e3" and "Infinity" to numbers, so
// /flows/0x10 reached rule 16 and limit=Infinity reached SQLite; this runs before it and
// refuses them naming the parameter. Which parameters are integers comes from openapi.yaml.
import type { NextFunction, Request, Response } from 'express';
import yaml from 'js-yaml';
import fs from 'node:fs';
import { quote, ValidationError } from './errors.js';

interface Param { name: string; in: string; schema?: { type?: string } }
interface Route { re: RegExp; pathInts: string[]; queryInts: Set<string> }

const DECIMAL = /^-?(0|[1-9][0-9]{0,15})$/;

function routes(specFile: string): Route[] {
  const spec = yaml.load(fs.readFileSync(specFile, 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  // Literal paths first (/flows/batch-delete before /flows/{id}); the first that fits applies.
  const entries = Object.entries(spec.paths).sort(([a], [b]) => (a.includes('{') ? 1 : 0) - (b.includes('{') ? 1 : 0));
  return entries.map(([template, item]) => {
    const params: Param[] = [...((item.parameters as Param[]) ?? [])];
    for (const op of Object.values(item)) if (op && typeof op === 'object' && Array.isArray((op as { parameters?: Param[] }).parameters)) params.push(...(op as { parameters: Param[] }).parameters);
    const ints = params.filter((p) => p.schema?.type === 'integer');
    const names: string[] = [];
    const re = new RegExp(`^${template.replace(/\{([^}]+)\}/g, (_m, n: string) => (names.push(n), '([^/]+)'))}/?$`);
    return { re, pathInts: names.map((n) => (ints.some((p) => p.in === 'path' && p.name === n) ? n : '')), queryInts: new Set(ints.filter((p) => p.in === 'query').map((p) => p.name)) };
  });
}

export function strictIntegers(specFile: string) {
  const table = routes(specFile);
  return (req: Request, _res: Response, next: NextFunction): void => {
    let url: URL;
    try {
      url = new URL(req.originalUrl, 'http://x');
    } catch {
      return next(ValidationError.one('url', 'the request target is not a valid URL'));
    }
    for (const r of table) {
      const m = r.re.exec(url.pathname);
      if (!m) continue;
      for (let i = 0; i < r.pathInts.length; i++) {
        if (!r.pathInts[i]) continue;
        let raw = m[i + 1];
        try {
          raw = decodeURIComponent(raw);
        } catch {
          /* malformed %-escape: checked as written */
        }
        if (!DECIMAL.test(raw)) return next(ValidationError.one(r.pathInts[i], `${quote(raw)} is not a decimal integer`));
      }
      for (const [name, raw] of url.searchParams) {
        if (r.queryInts.has(name) && !DECIMAL.test(raw)) return next(ValidationError.one(name, `${quote(raw)} is not a decimal integer`));
      }
      break;
    }
    next();
  };
}
