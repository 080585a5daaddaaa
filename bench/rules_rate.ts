// rules_rate.ts - rules per second into SQLite and the pinned map, end to end:
// REST single upserts (POST /flows, keep-alive, a few requests in flight) and gRPC
// BatchUpsertFlows, against the control plane running as `make up` runs it (a child process)
// on a lab of its own with XDP attached. Prints a table, or JSON with --json.
//   node --import tsx bench/rules_rate.ts [--rest N] [--batch N] [--json]
import fs from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'node:http';
import * as native from '../native/index.js';
import { loadPcfPackage } from '../server/grpc.js';
import { call, ChildControlPlane, grpcClient, tempDb } from '../test/lib/cp.js';
import { datapathUnavailable } from '../test/lib/env.js';
import { Lab } from '../test/lib/lab.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const REST_N = opt('--rest', 20_000);
const BATCH_N = opt('--batch', 100_000);
const IN_FLIGHT = 8;

const ip = (n: number) => `198.19.${(n >> 8) & 255}.${n & 255}`;
const rule = (n: number, type: string) => ({
  key: { src_ip: ip(n >> 16), dst_ip: '198.18.1.1', src_port: n & 0xffff, dst_port: 9000, proto: 17 },
  action: { type },
});

function post(agent: Agent, port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/flows', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  const why = datapathUnavailable();
  if (why) throw new Error(`cannot run: ${why}`);
  const lab = await Lab.create({ loaderArgs: ['--max-rules', String(Math.max(262144, REST_N + 2 * BATCH_N))] });
  const db = tempDb();
  const cp = await ChildControlPlane.create(lab.pinDir, db.file);
  try {
    await cp.start();
    // REST: single upserts, each acknowledged only once in SQLite and in the map.
    const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < REST_N) {
        const n = next++;
        const status = await post(agent, cp.httpPort, JSON.stringify(rule(n, 'PASS')));
        if (status !== 201) throw new Error(`POST /flows answered ${status}`);
      }
    }));
    const restSec = Number(process.hrtime.bigint() - t0) / 1e9;
    agent.destroy();

    // gRPC: one BatchUpsertFlows of BATCH_N new rules, the client's encoding included.
    const rpc = grpcClient(cp.grpcPort);
    const flows = Array.from({ length: BATCH_N }, (_, i) => rule(REST_N + i, 'DROP'));
    const t1 = process.hrtime.bigint();
    const res = await call(rpc, 'BatchUpsertFlows', { flows });
    const batchSec = Number(process.hrtime.bigint() - t1) / 1e9;
    if (res.created !== BATCH_N) throw new Error(`batch created ${res.created} of ${BATCH_N}`);

    // The same, with the request encoded before the clock starts: what the control plane
    // ingests, apart from the client's protobuf encoding on this same 2-CPU machine.
    const method = (loadPcfPackage() as any).pcf.v1.PcfControl.service.BatchUpsertFlows;
    const encoded: Buffer = method.requestSerialize({ flows: Array.from({ length: BATCH_N }, (_, i) => rule(REST_N + BATCH_N + i, 'PASS')) });
    const t2 = process.hrtime.bigint();
    const res2: any = await new Promise((resolve, reject) => rpc.makeUnaryRequest(method.path, (b: Buffer) => b, method.responseDeserialize,
      encoded, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))));
    const ingestSec = Number(process.hrtime.bigint() - t2) / 1e9;
    rpc.close();
    if (res2.created !== BATCH_N) throw new Error(`pre-encoded batch created ${res2.created} of ${BATCH_N}`);

    const map = native.FlowMap.open(path.join(lab.pinDir, 'pcf_flow_map'));
    const inMap = map.listFlows().length;
    map.close();
    if (inMap !== REST_N + 2 * BATCH_N) throw new Error(`map holds ${inMap} rules, expected ${REST_N + 2 * BATCH_N}`);

    const result = {
      rest_single: { rules: REST_N, seconds: +restSec.toFixed(3), rules_per_s: Math.round(REST_N / restSec), in_flight: IN_FLIGHT, target: 3000 },
      grpc_batch: { rules: BATCH_N, seconds: +batchSec.toFixed(3), rules_per_s: Math.round(BATCH_N / batchSec), target: 100000 },
      grpc_batch_pre_encoded: { rules: BATCH_N, seconds: +ingestSec.toFixed(3), rules_per_s: Math.round(BATCH_N / ingestSec), target: 100000 },
      rules_in_map: inMap,
    };
    if (args.includes('--json')) console.log(JSON.stringify(result, null, 2));
    else {
      console.log('path                  rules    seconds   rules/s   target');
      console.log(`REST POST /flows    ${String(REST_N).padStart(7)} ${restSec.toFixed(3).padStart(10)} ${String(result.rest_single.rules_per_s).padStart(9)}   >= 3000`);
      console.log(`gRPC BatchUpsert    ${String(BATCH_N).padStart(7)} ${batchSec.toFixed(3).padStart(10)} ${String(result.grpc_batch.rules_per_s).padStart(9)}   >= 100000`);
      console.log(`  same, pre-encoded ${String(BATCH_N).padStart(7)} ${ingestSec.toFixed(3).padStart(10)} ${String(result.grpc_batch_pre_encoded.rules_per_s).padStart(9)}   (the client's encoding left out)`);
      console.log(`rules in pcf_flow_map after all: ${inMap}`);
    }
  } finally {
    await cp.stop();
    await lab.destroy();
    fs.rmSync(db.dir, { recursive: true, force: true });
  }
}

await main();
