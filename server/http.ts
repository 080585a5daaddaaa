// http.ts - the REST API of openapi.yaml over the service layer. Requests are validated
// against openapi.yaml (express-openapi-validator) for shape and ranges, once (the bodies are
// marked checked for the service); the service checks meaning.
// Built apart from listening (createHttpApp) so tests run it on port 0.
import express, { type NextFunction, type Request, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { CapacityError, CompactedError, ConflictError, NotFoundError, OutOfRangeError, UnavailableError, ValidationError, type FieldError } from './errors.js';
import type { components } from './generated/openapi.js';
import type { Flow, FlowFilter } from './model.js';
import { createMetrics } from './metrics.js';
import { MAX_BACKLOG_BYTES, type EventFilter } from './packet_events.js';
import type { FlowService } from './service.js';
import { OPEN_PATHS, type Tokens } from './auth.js';
import { strictIntegers } from './params.js';
import { markSchemaChecked, OPENAPI_SPEC } from './schema.js';
import { parseProto } from './validate.js';

export { OPENAPI_SPEC };

/** A single rule is a few hundred bytes; anything near this is not a rule. */
export const BODY_LIMIT = '64kb';
export const BATCH_BODY_LIMIT = '4mb';
/** A comment line on an idle event stream, so that proxies and clients see it alive. */
const SSE_KEEPALIVE_MS = 15_000;

type FlowBody = components['schemas']['Flow'];
type ProblemBody = components['schemas']['Problem'];

function problem(res: Response, status: number, title: string, detail: string, errors?: FieldError[]): void {
  const body: ProblemBody = { type: 'about:blank', title, status, detail, ...(errors ? { errors } : {}) };
  res.status(status).type('application/problem+json').json(body);
}

/** "/body/key/src_port" -> "key.src_port"; "/query/limit" -> "limit"; "/body/flows/2/key" -> "flows[2].key". */
export function fieldFromPointer(p: string): string {
  const parts = p.replace(/^\.?\/?(body|query|params|path|headers)\/?/, '').split(/[/.]/).filter(Boolean);
  return parts.reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '') || 'body';
}

function toBody(f: Flow): FlowBody {
  return f as FlowBody;
}

export function createHttpApp(service: FlowService, log: Logger, tokens: Tokens | null = null): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag: it hashes every body (a SHA-1 per answer), and no client here sends If-None-Match.
  app.disable('etag');
  // Before anything reads the request: a caller without a valid token gets 401, nothing else.
  if (tokens) {
    app.use((req, res, next) => {
      if (OPEN_PATHS.has(req.path)) return next();
      const r = tokens.check(req.headers.authorization);
      if ('name' in r) return next();
      log.warn({ peer: req.socket.remoteAddress, method: req.method, path: req.path, why: r.why }, 'unauthenticated request refused');
      res.setHeader('WWW-Authenticate', 'Bearer realm="pcf"');
      problem(res, 401, 'Unauthenticated', `${r.why}: send Authorization: Bearer <token>`);
    });
  }
  // A batch of 200,000 ids is about 1.4 MB; every other body is one rule.
  app.use('/flows/batch-delete', express.json({ limit: BATCH_BODY_LIMIT, type: ['application/json', 'application/*+json'] }));
  app.use(express.json({ limit: BODY_LIMIT, type: ['application/json', 'application/*+json'] }));
  app.use(strictIntegers(OPENAPI_SPEC));
  app.use(OpenApiValidator.middleware({
    apiSpec: OPENAPI_SPEC,
    validateRequests: { allowUnknownQueryParameters: false },
    validateResponses: false,
    validateFormats: true,
  }));

  // The middleware checked these bodies against openapi.yaml: the service does not again.
  app.post('/flows', async (req, res) => {
    const { flow, created } = await service.upsertGrouped(markSchemaChecked(req.body));
    if (created) res.status(201).location(`/flows/${flow.id}`);
    res.json(toBody(flow));
  });

  app.get('/flows', (req, res) => {
    const q = req.query as Record<string, unknown>;
    const filter: FlowFilter = {};
    if (q.src_ip !== undefined) filter.src_ip = String(q.src_ip);
    if (q.dst_ip !== undefined) filter.dst_ip = String(q.dst_ip);
    if (q.src_port !== undefined) filter.src_port = Number(q.src_port);
    if (q.dst_port !== undefined) filter.dst_port = Number(q.dst_port);
    if (q.proto !== undefined) filter.proto = parseProto(/^\d+$/.test(String(q.proto)) ? Number(q.proto) : String(q.proto));
    if (q.type !== undefined) filter.type = q.type as FlowFilter['type'];
    const page = service.list(filter, Number(q.limit ?? 100), Number(q.cursor ?? 0));
    res.json({ flows: page.flows.map(toBody), next_cursor: page.next_cursor });
  });

  app.post('/flows/batch-delete', async (req, res) => {
    res.json(await service.batchDelete(req.body.ids));
  });

  app.get('/flows/:id', (req, res) => {
    res.json(toBody(service.get(Number(req.params.id))));
  });

  app.delete('/flows/:id', async (req, res) => {
    await service.delete(Number(req.params.id));
    res.status(204).end();
  });

  app.put('/pcc-rules/:id', async (req, res) => {
    const { rule, created } = await service.upsertPcc(req.params.id, markSchemaChecked(req.body));
    res.status(created ? 201 : 200);
    if (created) res.location(`/pcc-rules/${encodeURIComponent(rule.pcc_rule_id)}`);
    res.json(rule);
  });

  app.get('/pcc-rules', (req, res) => {
    res.json(service.listPcc(Number(req.query.limit ?? 100), String(req.query.cursor ?? '')));
  });

  app.get('/pcc-rules/:id', (req, res) => {
    res.json(service.getPcc(req.params.id));
  });

  app.delete('/pcc-rules/:id', async (req, res) => {
    await service.deletePcc(req.params.id);
    res.status(204).end();
  });

  // Server-sent events: one `data:` line per PacketEvent, until the client goes or the
  // service stops. A bad filter is refused (400) before the stream starts.
  app.get('/events', (req, res) => {
    const q = req.query as { rule_id?: string; action?: EventFilter['action']; address?: string };
    const filter: EventFilter = { rule_id: q.rule_id === undefined ? undefined : Number(q.rule_id), action: q.action, address: q.address };
    const stop = service.packetEvents.subscribe(filter, {
      write: (e) => res.write(`data: ${JSON.stringify(e)}\n\n`),
      full: () => res.writableLength > MAX_BACKLOG_BYTES,
      lost: (n) => res.write(`event: lost\ndata: ${JSON.stringify({ lost: n })}\n\n`),
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': pcf packet events\n\n');
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), SSE_KEEPALIVE_MS);
    const offClose = service.onClose(() => res.end());
    res.on('close', () => {
      stop();
      clearInterval(keepAlive);
      offClose();
    });
  });

  app.get('/events/config', (_req, res) => {
    res.json(service.packetEvents.config());
  });

  app.put('/events/config', (req, res) => {
    res.json(service.packetEvents.setConfig(req.body));
  });

  app.get('/stats', (req, res) => {
    res.json(service.stats({ rules: String(req.query.rules) === 'true' }));
  });

  const metrics = createMetrics(service);
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });

  app.get('/healthz', (_req, res) => {
    res.json({ alive: true });
  });

  app.get('/readyz', (_req, res) => {
    const r = service.readiness();
    res.status(r.ready ? 200 : 503).json(r);
  });

  // Every error leaves as application/problem+json naming the field at fault.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ValidationError) return problem(res, 400, 'Invalid request', err.message, err.errors);
    if (err instanceof NotFoundError) return problem(res, 404, 'Not found', err.message, [{ field: err.field, message: err.message }]);
    if (err instanceof CapacityError) return problem(res, 409, 'No room', err.message, [{ field: err.field, message: err.message }]);
    if (err instanceof ConflictError) return problem(res, 409, 'Conflict', err.message, [{ field: err.field, message: err.message }]);
    if (err instanceof CompactedError) return problem(res, 409, 'Revision compacted', err.message, [{ field: err.field, message: err.message }]);
    if (err instanceof OutOfRangeError) return problem(res, 400, 'Out of range', err.message, [{ field: err.field, message: err.message }]);
    if (err instanceof UnavailableError) return problem(res.setHeader('Retry-After', '1'), 503, 'Unavailable', err.message);
    const e = err as { status?: number; type?: string; message?: string; errors?: { path: string; message: string }[] };
    if (e.type === 'entity.parse.failed') return problem(res, 400, 'Invalid JSON', `body: ${e.message}`, [{ field: 'body', message: `not valid JSON: ${e.message}` }]);
    if (e.type === 'entity.too.large') {
      const limit = req.path === '/flows/batch-delete' ? BATCH_BODY_LIMIT : BODY_LIMIT;
      return problem(res, 413, 'Body too large', `body: over the ${limit} limit`, [{ field: 'body', message: `larger than ${limit}` }]);
    }
    if (e.status && e.status >= 400 && e.status < 500) {
      const errors = (e.errors ?? []).map((x) => ({ field: fieldFromPointer(x.path), message: x.message }));
      const detail = errors.length ? errors.map((x) => `${x.field}: ${x.message}`).join('; ') : e.message ?? 'bad request';
      return problem(res, e.status, e.status === 404 ? 'Not found' : e.status === 415 ? 'Unsupported media type' : 'Invalid request', detail, errors);
    }
    log.error({ err, url: req.url }, 'request failed');
    return problem(res, 500, 'Internal error', (err as Error)?.message ?? 'internal error');
  });
  return app;
}
