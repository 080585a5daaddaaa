// auth.test.ts - bearer tokens, TLS and client certificates on REST and gRPC, the refusal to
// listen beyond loopback unauthenticated, and pcfctl's options for all of it. A real control
// plane on SQLite without a datapath: no root needed.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import type { Running } from '../server/app.js';
import { loadPcfPackage } from '../api/proto.js';
import { makeCerts, type Certs } from './lib/certs.js';
import { byName, call, startInProcess, tempDb, type PcfClient } from './lib/cp.js';
import { ROOT } from './lib/env.js';

const run = promisify(execFile);
const TOKEN = 'tok-ops-0123456789abcdef';
const OTHER = 'tok-pcf-fedcba9876543210';
const rule = (p: number) => ({ key: { src_ip: '198.18.0.1', dst_ip: '198.18.1.1', src_port: p, dst_port: 80, proto: 'udp' }, action: { type: 'PASS' } });

/** A pino logger whose lines land in `lines` (what an operator would read). */
function capture(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
  return { log: pino({ level: 'info' }, sink), lines };
}

/** pcfctl with the given arguments: its exit code and output. */
async function pcfctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(path.join(ROOT, 'bin/pcfctl'), args, { timeout: 30_000 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function grpcControl(port: number, creds = grpc.credentials.createInsecure()): PcfClient {
  const pkg = loadPcfPackage() as any;
  return new pkg.pcf.v1.PcfControl(`127.0.0.1:${port}`, creds) as PcfClient;
}

const withToken = (t: string) => {
  const m = new grpc.Metadata();
  m.set('authorization', `Bearer ${t}`);
  return m;
};
const callMeta = (c: PcfClient, method: string, req: unknown, meta: grpc.Metadata) =>
  new Promise<any>((resolve, reject) => byName(c)[method](req, meta, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))));

describe('bearer tokens', () => {
  let dir: string;
  let db: ReturnType<typeof tempDb>;
  let cp: Running;
  let logs: ReturnType<typeof capture>;
  let base: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-auth-'));
    fs.writeFileSync(path.join(dir, 'tokens'), `# who may call\nops:${TOKEN}\n\npcf-logic:${OTHER}\n`);
    db = tempDb();
    logs = capture();
    cp = await startInProcess(path.join(dir, 'no-pins'), db.file, undefined, { authTokenFile: path.join(dir, 'tokens') }, logs.log);
    base = `http://127.0.0.1:${cp.httpPort}`;
  });
  after(async () => {
    await cp?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(db.dir, { recursive: true, force: true });
  });

  const count = async () => (await (await fetch(`${base}/flows`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()).flows.length;

  it('REST: no token or a wrong one is 401 problem+json with WWW-Authenticate, logged with the peer, and writes nothing', async () => {
    const before = await count();
    for (const auth of [undefined, `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, 'Bearer']) {
      const r = await fetch(`${base}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: JSON.stringify(rule(1)) });
      assert.equal(r.status, 401, String(auth));
      assert.match(r.headers.get('content-type')!, /problem\+json/);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="pcf"');
      assert.equal((await r.json()).status, 401);
    }
    assert.equal(await count(), before);
    const refused = logs.lines.filter((l) => l.includes('unauthenticated request refused'));
    assert.equal(refused.length, 4);
    assert.match(refused[0], /"peer":"(::ffff:)?127\.0\.0\.1"/);
  });

  it('REST: each token works; /healthz, /readyz and /metrics need none', async () => {
    for (const t of [TOKEN, OTHER]) {
      const r = await fetch(`${base}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` }, body: JSON.stringify(rule(t === TOKEN ? 2 : 3)) });
      assert.equal(r.status, 201);
    }
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 503); // no datapath here, but not 401
    assert.equal((await fetch(`${base}/metrics`)).status, 200);
    assert.equal((await fetch(`${base}/stats`)).status, 401);
  });

  it('gRPC: no token or a wrong one is UNAUTHENTICATED for unary calls and WatchFlows; the right one works', async () => {
    const c = grpcControl(cp.grpcPort);
    try {
      await assert.rejects(call(c, 'UpsertFlow', rule(4)), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED && /Bearer/.test(e.details));
      await assert.rejects(callMeta(c, 'UpsertFlow', rule(4), withToken('nope-nope-nope-nope')), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        const s = c.WatchFlows({});
        s.on('data', () => {});
        s.on('error', resolve);
      });
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      const ok = await callMeta(c, 'UpsertFlow', { key: { ...rule(5).key, proto: 17 }, action: { type: 'PASS' } }, withToken(OTHER));
      assert.equal(ok.created, true);
      assert.ok(logs.lines.some((l) => l.includes('unauthenticated call refused') && l.includes('/pcf.v1.PcfControl/WatchFlows')));
    } finally {
      c.close();
    }
  });

  it('no token ever reaches the log', () => {
    const all = logs.lines.join('\n');
    for (const t of [TOKEN, OTHER, 'nope-nope-nope-nope']) assert.ok(!all.includes(t), 'a token in the log');
    assert.ok(logs.lines.some((l) => l.includes('"auth":"bearer tokens"')));
  });

  it('pcfctl: --token and --token-file over REST and gRPC; without one it says why', async () => {
    const tf = path.join(dir, 'my-token');
    fs.writeFileSync(tf, `${TOKEN}\n`);
    const where = ['--http', `127.0.0.1:${cp.httpPort}`, '--grpc', `127.0.0.1:${cp.grpcPort}`];
    for (const transport of ['rest', 'grpc']) {
      const ok1 = await pcfctl([...where, '--transport', transport, '--token', TOKEN, 'flows', 'list']);
      assert.equal(ok1.code, 0, ok1.stderr);
      assert.match(ok1.stdout, /198\.18\.0\.1:2 -> 198\.18\.1\.1:80/);
      const ok2 = await pcfctl([...where, '--transport', transport, '--token-file', tf, 'stats']);
      assert.equal(ok2.code, 0, ok2.stderr);
      const no = await pcfctl([...where, '--transport', transport, 'flows', 'list']);
      assert.equal(no.code, 1);
      assert.match(no.stderr, /no Authorization: Bearer token/);
    }
  });
});

describe('a token file that is wrong stops the start, naming the line', () => {
  for (const [what, text, want] of [
    ['a line without a colon', `ops${TOKEN}\n`, /line 1: expected name:token/],
    ['a short token', 'ops:short\n', /line 1: the token of ops must be at least 16 characters/],
    ['a name twice', `ops:${TOKEN}\nops:${OTHER}\n`, /line 2: the name ops is there twice/],
    ['no entry at all', '# nothing\n', /no name:token line/],
  ] as const) {
    it(what, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-auth-'));
      const db = tempDb();
      try {
        fs.writeFileSync(path.join(dir, 'tokens'), text);
        await assert.rejects(startInProcess(path.join(dir, 'no-pins'), db.file, undefined, { authTokenFile: path.join(dir, 'tokens') }), (e: Error) => {
          assert.match(e.message, want);
          assert.ok(!e.message.includes(TOKEN) && !e.message.includes(OTHER), 'the message quotes no token');
          return true;
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.rmSync(db.dir, { recursive: true, force: true });
      }
    });
  }
});

describe('TLS and client certificates', () => {
  let certs: Certs;
  let db: ReturnType<typeof tempDb>;
  let cp: Running;
  before(async () => {
    certs = makeCerts();
    db = tempDb();
    cp = await startInProcess(path.join(certs.dir, 'no-pins'), db.file, undefined, { tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.ca } });
  });
  after(async () => {
    await cp?.close();
    fs.rmSync(certs.dir, { recursive: true, force: true });
    fs.rmSync(db.dir, { recursive: true, force: true });
  });

  const get = (opts: https.RequestOptions) => new Promise<number>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: cp.httpPort, path: '/stats', ...opts }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });

  it('HTTPS: a client certificate from the CA is let in; none, or one from another CA, is refused in the handshake', async () => {
    const ca = fs.readFileSync(certs.ca);
    assert.equal(await get({ ca, cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) }), 200);
    await assert.rejects(get({ ca }));
    await assert.rejects(get({ ca, cert: fs.readFileSync(certs.otherCert), key: fs.readFileSync(certs.otherKey) }));
  });

  it('gRPC over TLS: the client certificate is needed too', async () => {
    const ca = fs.readFileSync(certs.ca);
    const good = grpcControl(cp.grpcPort, grpc.credentials.createSsl(ca, fs.readFileSync(certs.clientKey), fs.readFileSync(certs.clientCert)));
    const none = grpcControl(cp.grpcPort, grpc.credentials.createSsl(ca));
    const plain = grpcControl(cp.grpcPort);
    try {
      assert.equal((await call(good, 'GetStats', {})).datapath.present, false);
      // TLS 1.3: the server's "certificate required" alert comes after the client's handshake.
      await assert.rejects(call(none, 'GetStats', {}), (e: grpc.ServiceError) => [grpc.status.UNAVAILABLE, grpc.status.INTERNAL].includes(e.code) && /certificate required|UNAVAILABLE|handshake/i.test(`${e.details} ${e.message}`));
      await assert.rejects(call(plain, 'GetStats', {}), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
    } finally {
      good.close();
      none.close();
      plain.close();
    }
  });

  it('pcfctl with --ca, --cert and --key, over REST (https) and gRPC', async () => {
    const tls = ['--ca', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey];
    const where = ['--http', `https://127.0.0.1:${cp.httpPort}`, '--grpc', `127.0.0.1:${cp.grpcPort}`];
    for (const transport of ['rest', 'grpc']) {
      const r = await pcfctl([...where, ...tls, '--transport', transport, 'stats']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^datapath +absent/m);
    }
    const noCert = await pcfctl([...where, '--ca', certs.ca, 'stats']);
    assert.equal(noCert.code, 3, noCert.stderr);
  });
});

describe('listening beyond loopback', () => {
  it('without a token or client certificates the start is refused, saying what to set; PCF_INSECURE=1 starts with a warning', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-auth-'));
    const db = tempDb();
    try {
      await assert.rejects(startInProcess(path.join(dir, 'no-pins'), db.file, undefined, { http: { host: '0.0.0.0', port: 0 } }), (e: Error) => {
        assert.match(e.message, /PCF_HTTP=0\.0\.0\.0 listen beyond loopback without authentication/);
        assert.match(e.message, /PCF_AUTH_TOKEN_FILE .* PCF_TLS_CLIENT_CA .* PCF_INSECURE=1/);
        return true;
      });
      const logs = capture();
      const cp = await startInProcess(path.join(dir, 'no-pins'), db.file, undefined, { grpc: { host: '0.0.0.0', port: 0 }, insecure: true }, logs.log);
      await cp.close();
      assert.ok(logs.lines.some((l) => /"level":40/.test(l) && l.includes('PCF_GRPC=0.0.0.0') && l.includes('PCF_INSECURE=1')));
      fs.writeFileSync(path.join(dir, 'tokens'), `ops:${TOKEN}\n`);
      const withTokens = await startInProcess(path.join(dir, 'no-pins'), db.file, undefined, { grpc: { host: '0.0.0.0', port: 0 }, authTokenFile: path.join(dir, 'tokens') });
      await withTokens.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(db.dir, { recursive: true, force: true });
    }
  });
});
