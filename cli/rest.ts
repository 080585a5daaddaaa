// rest.ts - pcfctl over the HTTP API of openapi.yaml (Node's http and https, no extra dependency).
import http from 'node:http';
import https from 'node:https';
import {
  EXIT, CliError, NO_SECURITY, RefusedError, unreachable, usageError, type ClientSecurity, type EventFilter,
  type Flow, type FlowFilter, type PacketEvent, type PacketEventConfig, type PccRule, type PcfClient, type Stats, type UpsertManyResult, type Watch, type WithRaw,
} from './client.js';

type Problem = { title?: string; detail?: string; status?: number; errors?: { field: string; message: string }[] };

/** "127.0.0.1:8080", "http://host:8080/prefix" -> a base URL without trailing slash. */
export function baseUrl(http: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(http) ? http : `http://${http}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw usageError(`--http: ${JSON.stringify(http)} is not a URL or host:port`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw usageError(`--http: ${u.protocol} is not http: or https:`);
  return u.href.replace(/\/+$/, '');
}

/** A problem+json body as pcfctl's error: one line per errors[] entry, "field: message". */
export function problemError(status: number, body: unknown): RefusedError {
  const p = (body && typeof body === 'object' ? body : {}) as Problem;
  if (Array.isArray(p.errors) && p.errors.length) return new RefusedError(p.errors.map((e) => `${e.field}: ${e.message}`), p.errors);
  return new RefusedError([`${p.detail ?? p.title ?? (typeof body === 'string' && body ? body.trim() : 'request failed')} (HTTP ${status})`]);
}

export class RestClient implements PcfClient {
  readonly target: string;

  constructor(http: string, private readonly timeoutMs: number, private readonly sec: ClientSecurity = NO_SECURITY) {
    const base = baseUrl(http);
    this.target = sec.tls ? base.replace(/^http:/, 'https:') : base;
  }

  /** The request's URL, library and options: the token, TLS files. */
  private prepare(path: string, json: boolean) {
    const url = new URL(this.target + path);
    const headers: Record<string, string> = {};
    if (json) headers['content-type'] = 'application/json';
    if (this.sec.token) headers.authorization = `Bearer ${this.sec.token}`;
    const lib = url.protocol === 'https:' ? https : http;
    const tlsOpts = url.protocol === 'https:' ? { ...(this.sec.ca ? { ca: this.sec.ca } : {}), ...(this.sec.cert ? { cert: this.sec.cert } : {}), ...(this.sec.key ? { key: this.sec.key } : {}) } : {};
    return { url, lib, opts: { headers, ...tlsOpts } };
  }

  /** One request with Node's http/https (fetch cannot take a CA or a client certificate). */
  private send(method: string, path: string, body?: unknown): Promise<{ status: number; type: string; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const { url, lib, opts } = this.prepare(path, payload !== undefined);
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method, ...opts }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text }));
        res.on('error', reject);
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private async request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    let res: { status: number; type: string; text: string };
    try {
      res = await this.send(method, path, body);
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.name === 'TimeoutError') throw unreachable(this.target, `no answer within ${this.timeoutMs} ms`);
      throw unreachable(this.target, e.message || e.code || 'request failed');
    }
    const text = res.text;
    let parsed: unknown = text;
    if (text && /json/.test(res.type)) {
      try {
        parsed = JSON.parse(text);
      } catch {
        /* keep the text */
      }
    }
    if (res.status >= 400) throw problemError(res.status, parsed);
    return { status: res.status, body: parsed };
  }

  async upsert(spec: unknown): Promise<WithRaw<{ flow: Flow; created: boolean }>> {
    const r = await this.request('POST', '/flows', spec);
    return { flow: r.body as Flow, created: r.status === 201, raw: r.body };
  }

  /** One POST per rule: not atomic. A refusal names the rule (flows[i]) and what was written before it. */
  async upsertMany(specs: unknown[]): Promise<WithRaw<UpsertManyResult>> {
    const flows: Flow[] = [];
    const out: UpsertManyResult = { created: 0, updated: 0, ids: [] };
    for (const [i, spec] of specs.entries()) {
      let r;
      try {
        r = await this.upsert(spec);
      } catch (err) {
        if (!(err instanceof RefusedError)) throw err;
        // Name the rule as BatchUpsertFlows does: "flows[3].key.src_port: ..."
        const lines = err.fields.length
          ? err.fields.map((f) => `flows[${i}]${f.field === 'body' ? '' : `.${f.field}`}: ${f.message}`)
          : err.lines.map((l) => `flows[${i}]: ${l}`);
        lines.push(i === 0
          ? 'nothing was written'
          : `${i === 1 ? "flows[0] was" : `flows[0..${i - 1}] were`} written (REST sends the rules one by one; --transport grpc writes a file all or nothing)`);
        throw new RefusedError(lines);
      }
      flows.push(r.flow);
      out.ids.push(r.flow.id);
      if (r.created) out.created++;
      else out.updated++;
    }
    return { ...out, raw: flows };
  }

  async list(filter: FlowFilter, limit: number | undefined, cursor: number | undefined) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...filter, limit, cursor })) if (v !== undefined) q.set(k, String(v));
    const qs = q.toString();
    const r = await this.request('GET', `/flows${qs ? `?${qs}` : ''}`);
    const body = r.body as { flows: Flow[]; next_cursor: number | null };
    return { flows: body.flows, next_cursor: body.next_cursor ?? null, raw: r.body };
  }

  async get(id: number) {
    const r = await this.request('GET', `/flows/${id}`);
    return { flow: r.body as Flow, raw: r.body };
  }

  /** 204 has no body; --json prints {} as gRPC's DeleteFlowResponse does. */
  async delete(id: number) {
    await this.request('DELETE', `/flows/${id}`);
    return { raw: {} };
  }

  async deleteMany(ids: number[]) {
    const r = await this.request('POST', '/flows/batch-delete', { ids });
    const b = r.body as { deleted: number; revision: number };
    return { deleted: b.deleted, revision: b.revision, raw: r.body };
  }

  async stats(rules = false) {
    const r = await this.request('GET', rules ? '/stats?rules=true' : '/stats');
    return { stats: r.body as Stats, raw: r.body };
  }

  async upsertPcc(id: string, spec: unknown) {
    const r = await this.request('PUT', `/pcc-rules/${encodeURIComponent(id)}`, spec);
    return { rule: r.body as PccRule, created: r.status === 201, raw: r.body };
  }

  async getPcc(id: string) {
    const r = await this.request('GET', `/pcc-rules/${encodeURIComponent(id)}`);
    return { rule: r.body as PccRule, raw: r.body };
  }

  async listPcc(limit: number | undefined, cursor: string | undefined) {
    const q = new URLSearchParams();
    if (limit !== undefined) q.set('limit', String(limit));
    if (cursor !== undefined) q.set('cursor', cursor);
    const r = await this.request('GET', `/pcc-rules${q.size ? `?${q}` : ''}`);
    const body = r.body as { pcc_rules: PccRule[]; next_cursor: string | null };
    return { rules: body.pcc_rules, next_cursor: body.next_cursor ?? null, raw: r.body };
  }

  async deletePcc(id: string) {
    await this.request('DELETE', `/pcc-rules/${encodeURIComponent(id)}`);
    return { raw: {} };
  }

  async eventConfig() {
    const r = await this.request('GET', '/events/config');
    return { config: r.body as PacketEventConfig, raw: r.body };
  }

  async setEventConfig(c: PacketEventConfig) {
    const r = await this.request('PUT', '/events/config', c);
    return { config: r.body as PacketEventConfig, raw: r.body };
  }

  /** GET /events: one `data:` line per event (server-sent events); the request timeout only
   * bounds the wait for the stream to start. */
  observe(filter: EventFilter, onEvent: (e: PacketEvent, raw: unknown) => void, onLost: (n: number) => void): Watch {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
    const { url, lib, opts } = this.prepare(`/events${q.size ? `?${q}` : ''}`, false);
    let cancelled = false;
    let req: http.ClientRequest;
    const done = new Promise<void>((resolve, reject) => {
      req = lib.request(url, { method: 'GET', ...opts }, (res) => {
        req.setTimeout(0);
        let buf = '';
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          res.on('data', (d: string) => (buf += d));
          res.on('end', () => {
            let body: unknown = buf;
            try {
              body = JSON.parse(buf);
            } catch {
              /* keep the text */
            }
            reject(problemError(res.statusCode ?? 0, body));
          });
          return;
        }
        res.on('data', (d: string) => {
          buf += d;
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const lines = buf.slice(0, i).split('\n');
            buf = buf.slice(i + 2);
            const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
            if (!data) continue;
            let parsed: unknown;
            try {
              parsed = JSON.parse(data);
            } catch {
              req.destroy();
              return reject(new CliError([`observe: the control plane at ${this.target} sent a record that is not JSON: ${data.slice(0, 200)}`], EXIT.UNREACHABLE));
            }
            if (lines.includes('event: lost')) onLost(Number((parsed as { lost: number }).lost));
            else onEvent(parsed as PacketEvent, parsed);
          }
        });
        res.on('end', () => (cancelled ? resolve() : reject(new CliError([`observe: the control plane at ${this.target} ended the stream (it is stopping)`], EXIT.UNREACHABLE))));
        res.on('error', () => (cancelled ? resolve() : reject(unreachable(this.target, 'the stream broke'))));
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { name: 'TimeoutError' })));
      req.on('error', (err: Error & { code?: string }) => (cancelled ? resolve() : reject(unreachable(this.target, err.message || err.code || 'request failed'))));
      req.end();
    });
    return {
      cancel: () => {
        cancelled = true;
        req.destroy();
      },
      done,
    };
  }

  close(): void {}
}
