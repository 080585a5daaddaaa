// robustness.test.ts - what a hostile client or a careless operator found (issue 8), each
// against a real control plane on SQLite, without a datapath (rules are stored only), so it
// runs without root: input the validator let through, error messages that repeated a whole
// bad value, undecodable gRPC payloads, WatchFlows without backpressure, idle gRPC connections.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import type { Running } from '../server/app.js';
import { DEFAULT_GRPC_LIMITS } from '../server/config.js';
import { call, grpcClient, startInProcess, tempDb, type PcfClient } from './lib/cp.js';
import { until } from './lib/until.js';

const rule = (n: number) => ({
  key: { src_ip: '198.18.0.1', dst_ip: '198.18.1.1', src_port: (n % 60000) + 1, dst_port: 7000 + Math.floor(n / 60000), proto: 17 },
  action: { type: 'PASS' },
});

describe('a control plane under hostile and careless input', () => {
  let db: ReturnType<typeof tempDb>;
  let pinDir: string;
  let cp: Running;
  let http: ReturnType<typeof request>;
  let rpc: PcfClient;
  before(async () => {
    db = tempDb();
    pinDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-nopins-'));
    cp = await startInProcess(pinDir, db.file, undefined, { grpcLimits: { ...DEFAULT_GRPC_LIMITS, idleMs: 400, watchStallMs: 800 } });
    http = request(`http://127.0.0.1:${cp.httpPort}`);
    rpc = grpcClient(cp.grpcPort);
  });
  after(async () => {
    rpc?.close();
    await cp?.close();
    fs.rmSync(db.dir, { recursive: true, force: true });
    fs.rmSync(pinDir, { recursive: true, force: true });
  });

  describe('integers in paths and queries are plain decimals', () => {
    it('/flows/0x<id>, /flows/<id>%20, /flows/1e0: 400 naming id, and DELETE through them deletes nothing', async () => {
      const id = (await http.post('/flows').send(rule(1)).expect(201)).body.id as number;
      for (const p of [`0x${id.toString(16)}`, `${id}%20`, `%20${id}`, '1e0', `${id}.0`, '+1']) {
        const g = await http.get(`/flows/${p}`).expect(400);
        assert.equal(g.body.errors[0].field, 'id', p);
        await http.delete(`/flows/${p}`).expect(400);
      }
      await http.get(`/flows/${id}`).expect(200);
      await http.delete(`/flows/${id}`).expect(204);
    });

    for (const [q, field] of [['limit=Infinity', 'limit'], ['limit=-Infinity', 'limit'], ['limit=1e400', 'limit'], ['limit=0x10', 'limit'], ['cursor=-Infinity', 'cursor'], ['src_port=Infinity', 'src_port'], ['dst_port=1.5', 'dst_port']]) {
      it(`GET /flows?${q}: 400 naming ${field}`, async () => {
        const r = await http.get(`/flows?${q}`).expect(400);
        assert.match(r.headers['content-type'], /problem\+json/);
        assert.equal(r.body.errors[0].field, field);
      });
    }

    it('plain decimals still work: limit=2, cursor=0, src_port=1', async () => {
      const r = await http.get('/flows?limit=2&cursor=0&src_port=1').expect(200);
      assert.deepEqual(r.body.flows, []);
    });
  });

  describe('a bad value is quoted short', () => {
    it('an 8 KB src_ip: REST and gRPC name the field in under 200 characters, and the gRPC connection keeps working', async () => {
      const bad = { ...rule(2), key: { ...rule(2).key, src_ip: 'x'.repeat(8192) } };
      const r = await http.post('/flows').send(bad).expect(400);
      assert.equal(r.body.errors[0].field, 'key.src_ip');
      assert.ok(r.body.detail.length < 200, `${r.body.detail.length} characters`);
      await assert.rejects(call(rpc, 'UpsertFlow', bad), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.match(err.details, /^key\.src_ip: "x{30,}\.\.\. \(8194 chars\)/);
        assert.ok(err.details.length < 200, `${err.details.length} characters`);
        return true;
      });
      const s = await call(rpc, 'GetStats', {});
      assert.equal(s.datapath.present, false);
    });
  });

  describe('gRPC payloads that do not decode', () => {
    it('UpsertFlow, BatchUpsertFlows, WatchFlows with bytes that are not their message: INVALID_ARGUMENT naming request', async () => {
      const raw = new grpc.Client(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure());
      try {
        const garbage = Buffer.from([0x08, 0xff, 0xff]); // field 1 as a varint that never ends
        for (const m of ['UpsertFlow', 'BatchUpsertFlows']) {
          const err = await new Promise<grpc.ServiceError>((resolve) => {
            raw.makeUnaryRequest(`/pcf.v1.PcfControl/${m}`, (b: Buffer) => b, (b: Buffer) => b, garbage, (e) => resolve(e!));
          });
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${m}: ${err.details}`);
          assert.match(err.details, /^request: does not decode as the request of \/pcf\.v1\.PcfControl\//);
        }
        const err = await new Promise<grpc.ServiceError>((resolve) => {
          const s = raw.makeServerStreamRequest('/pcf.v1.PcfControl/WatchFlows', (b: Buffer) => b, (b: Buffer) => b, garbage);
          s.on('data', () => {});
          s.on('error', (e: grpc.ServiceError) => resolve(e));
        });
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.equal((await http.get('/flows').expect(200)).body.flows.length, 0, 'nothing written');
      } finally {
        raw.close();
      }
    });
  });

  describe('WatchFlows', () => {
    it('from a revision above the current one: OUT_OF_RANGE (current + 1000, and 2^63)', async () => {
      const cur = (await call(rpc, 'BatchUpsertFlows', { flows: [rule(3)] })).revision as number;
      for (const from of [cur + 1000, '9223372036854775807']) {
        const err = await new Promise<grpc.ServiceError>((resolve) => {
          const s = rpc.WatchFlows({ from_revision: from });
          s.on('data', () => {});
          s.on('error', resolve);
        });
        assert.equal(err.code, grpc.status.OUT_OF_RANGE, String(from));
        assert.match(err.details, /^from_revision: .* is above the current revision/);
      }
    });

    it('a watcher that never reads is cut off (RESOURCE_EXHAUSTED) having taken a small part of a 30,000-event replay', async () => {
      const from = (await call(rpc, 'BatchUpsertFlows', { flows: [rule(99)] })).revision as number;
      const res = await call(rpc, 'BatchUpsertFlows', { flows: Array.from({ length: 30_000 }, (_, i) => rule(100 + i)) });
      assert.equal(res.created, 30_000);
      let got = 0;
      const s = rpc.WatchFlows({ from_revision: from });
      s.on('data', () => got++);
      s.pause(); // the client reads nothing: HTTP/2 flow control backs the server up
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        s.on('error', resolve);
        s.on('status', (st: grpc.StatusObject) => st.code !== grpc.status.OK && resolve(st as grpc.ServiceError));
        setTimeout(() => s.resume(), 3000); // after the cut-off (800 ms of stall), read what came
      });
      assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED, err.details);
      assert.match(err.details, /read nothing for 800 ms .* watch again from revision \d+/);
      assert.ok(got < 30_000, `${got} events reached the client before the cut-off`);
    });

    it('10 concurrent replays of 20,000 events do not hold up the event loop: GET /healthz answers in under 250 ms throughout', async () => {
      const total = 20_000;
      const from = (await call(rpc, 'BatchUpsertFlows', { flows: [rule(40_000)] })).revision as number;
      assert.equal((await call(rpc, 'BatchUpsertFlows', { flows: Array.from({ length: total }, (_, i) => rule(40_001 + i)) })).created, total);
      const streams = Array.from({ length: 10 }, () => {
        let n = 0;
        const s = rpc.WatchFlows({ from_revision: from });
        s.on('data', () => n++);
        s.on('error', () => {});
        return { s, count: () => n };
      });
      let worst = 0;
      try {
        while (streams.some((x) => x.count() < total)) {
          const t = Date.now();
          await http.get('/healthz').expect(200);
          worst = Math.max(worst, Date.now() - t);
          await new Promise((r) => setTimeout(r, 10));
          if (worst > 5000) break;
        }
        assert.ok(worst < 250, `GET /healthz took up to ${worst} ms during the replays`);
        for (const x of streams) assert.equal(x.count(), total, 'every replay delivered every rule');
      } finally {
        for (const x of streams) x.s.cancel();
      }
    });
  });

  describe('idle gRPC connections', () => {
    it('a connection without calls is closed after PCF_GRPC_IDLE_MS (400 ms here); a new call reconnects', async () => {
      const c = grpcClient(cp.grpcPort);
      try {
        await call(c, 'GetStats', {});
        const ch = c.getChannel();
        assert.equal(ch.getConnectivityState(false), grpc.connectivityState.READY);
        await until(() => ch.getConnectivityState(false) === grpc.connectivityState.IDLE, 10_000, 'the server closed the idle connection');
        await call(c, 'GetStats', {});
      } finally {
        c.close();
      }
    });
  });
});
