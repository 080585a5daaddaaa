// grpc_health.test.ts - the standard gRPC services beside PcfControl: grpc.health.v1.Health is
// SERVING exactly when GET /readyz is 200 (on a lab whose pins come and go under a running
// control plane), Watch hears each change, a probe needs no token; server reflection describes
// PcfControl and Health to a client that has no .proto file. The health check is also made by
// an independent gRPC implementation (Python grpcio, C core) with hand-encoded bytes, as
// grpc_health_probe and Kubernetes' probes make it.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as HEALTH_PROTO } from 'grpc-health-check';
import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { Running } from '../server/app.js';
import { startInProcess, tempDb } from './lib/cp.js';
import { datapathUnavailable } from './lib/env.js';
import { Lab } from './lib/lab.js';
import { until } from './lib/until.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`grpc_health tests need the datapath under CI=true: ${why}`);

const require = createRequire(import.meta.url);
const REFLECTION_PROTO = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
const load = (file: string, root: string) => grpc.loadPackageDefinition(protoLoader.loadSync(path.relative(root, file), { keepCase: true, longs: Number, enums: String, includeDirs: [root] })) as any;
const Health = load(HEALTH_PROTO, path.resolve(path.dirname(HEALTH_PROTO), '../..')).grpc.health.v1.Health;
const Reflection = load(REFLECTION_PROTO, path.resolve(path.dirname(REFLECTION_PROTO), '../../..')).grpc.reflection.v1.ServerReflection;

const check = (c: grpc.Client, service: string, meta = new grpc.Metadata()) =>
  new Promise<string>((resolve, reject) => (c as any).check({ service }, meta, (err: grpc.ServiceError | null, res: { status: string }) => (err ? reject(err) : resolve(res.status))));

/** /readyz's status and Health/Check's answer for '' and PcfControl, read one right after the other. */
async function both(http: string, c: grpc.Client): Promise<{ readyz: number; all: string; pcf: string }> {
  const readyz = (await fetch(`${http}/readyz`)).status;
  return { readyz, all: await check(c, ''), pcf: await check(c, 'pcf.v1.PcfControl') };
}

describe('grpc.health.v1.Health follows /readyz', { skip: why ?? false }, () => {
  let lab: Lab;
  let db: ReturnType<typeof tempDb>;
  let dir: string;
  let cp: Running;
  let health: grpc.Client;
  let http: string;
  before(async () => {
    // The lab's namespaces, but no XDP yet: the pin dir appears when the test attaches it.
    lab = await Lab.create({ attach: false });
    db = tempDb();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-health-'));
    fs.writeFileSync(path.join(dir, 'tokens'), 'ops:s3cret-token-for-the-health-test\n');
    cp = await startInProcess(lab.pinDir, db.file, undefined, { authTokenFile: path.join(dir, 'tokens') });
    http = `http://127.0.0.1:${cp.httpPort}`;
    health = new Health(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    health?.close();
    await cp?.close();
    await lab?.destroy();
    fs.rmSync(db.dir, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('NOT_SERVING while /readyz is 503, SERVING once it is 200, NOT_SERVING again when the pins go; Watch hears each change', async () => {
    const heard: string[] = [];
    const watch = (health as any).watch({ service: '' });
    watch.on('data', (m: { status: string }) => heard.push(m.status));
    watch.on('error', () => {}); // cancelled at the end
    try {
      assert.deepEqual(await both(http, health), { readyz: 503, all: 'NOT_SERVING', pcf: 'NOT_SERVING' });
      await until(() => heard.length >= 1, 5000, 'the first Watch message');
      assert.deepEqual(heard, ['NOT_SERVING']);

      await lab.loader('attach');
      await until(async () => (await fetch(`${http}/readyz`)).status === 200, 10_000, '/readyz 200 after attach');
      assert.deepEqual(await both(http, health), { readyz: 200, all: 'SERVING', pcf: 'SERVING' });
      await until(() => heard.length >= 2, 5000, 'Watch to hear SERVING');

      await lab.loader('detach', '--purge');
      await until(async () => (await fetch(`${http}/readyz`)).status === 503, 10_000, '/readyz 503 after the pins went');
      assert.deepEqual(await both(http, health), { readyz: 503, all: 'NOT_SERVING', pcf: 'NOT_SERVING' });
      await until(() => heard.length >= 3, 5000, 'Watch to hear NOT_SERVING');
      assert.deepEqual(heard, ['NOT_SERVING', 'SERVING', 'NOT_SERVING'], 'one message per change, none repeated');
    } finally {
      watch.cancel();
    }
  });

  it('an unknown service is NOT_FOUND; a probe needs no token where PcfControl refuses a call without one', async () => {
    await assert.rejects(check(health, 'pcf.v1.Nope'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    const pcf = new (load(path.resolve('proto/pcf/v1/pcf.proto'), path.resolve('proto')).pcf.v1.PcfControl)(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure());
    try {
      await assert.rejects(new Promise((res, rej) => pcf.GetStats({}, (e: Error | null, r: unknown) => (e ? rej(e) : res(r)))), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
    } finally {
      pcf.close();
    }
    assert.match(await check(health, ''), /^(NOT_)?SERVING$/);
  });

  it('Python grpcio (C core), with no .proto: Check answers the bytes of NOT_SERVING and SERVING as /readyz says', async () => {
    // HealthCheckRequest{service: ""} is no bytes; HealthCheckResponse{status} is field 1, a
    // varint: 08 01 SERVING, 08 02 NOT_SERVING.
    const py = `import grpc, sys
ch = grpc.insecure_channel(sys.argv[1])
f = ch.unary_unary('/grpc.health.v1.Health/Check', request_serializer=None, response_deserializer=None)
print(f(b'', timeout=5).hex())`;
    // Not execFileSync: the server answers on this process's event loop.
    const probe = async () => (await promisify(execFile)('/usr/bin/python3', ['-c', py, `127.0.0.1:${cp.grpcPort}`], { encoding: 'utf8', timeout: 20_000 })).stdout.trim();
    const ready = (await fetch(`${http}/readyz`)).status;
    assert.equal(await probe(), ready === 200 ? '0801' : '0802');
    await lab.loader('attach');
    await until(async () => (await fetch(`${http}/readyz`)).status === 200, 10_000, '/readyz 200 after attach');
    assert.equal(await probe(), '0801');
  });
});

describe('server reflection', { skip: why ?? false }, () => {
  let db: ReturnType<typeof tempDb>;
  let cp: Running;
  let refl: grpc.Client;
  before(async () => {
    db = tempDb();
    cp = await startInProcess(path.join('/nonexistent', path.basename(db.dir)), db.file);
    refl = new Reflection(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    refl?.close();
    await cp?.close();
    fs.rmSync(db.dir, { recursive: true, force: true });
  });

  /** One request on the bidirectional stream, its one answer. */
  const ask = (req: Record<string, unknown>) => new Promise<any>((resolve, reject) => {
    const s = (refl as any).ServerReflectionInfo();
    s.on('data', (m: unknown) => {
      resolve(m);
      s.end();
    });
    s.on('error', reject);
    s.write(req);
  });
  const files = (m: any) => (m.file_descriptor_response.file_descriptor_proto as Buffer[]).map((b) => descriptor.FileDescriptorProto.decode(b) as any);

  it('lists PcfControl and Health', async () => {
    const m = await ask({ list_services: '' });
    const names = m.list_services_response.service.map((s: { name: string }) => s.name).sort();
    assert.ok(names.includes('pcf.v1.PcfControl'), names.join());
    assert.ok(names.includes('grpc.health.v1.Health'), names.join());
  });

  it('describes PcfControl from its symbol: its methods and streaming, as pcf.proto declares them', async () => {
    const fds = files(await ask({ file_containing_symbol: 'pcf.v1.PcfControl' }));
    // proto-loader names a package's file after the package (pcf_v1.proto)
    const pcf = fds.find((f) => f.package === 'pcf.v1' && f.service.some((x: any) => x.name === 'PcfControl'));
    assert.ok(pcf, fds.map((f) => f.name).join());
    const svc = pcf.service.find((x: any) => x.name === 'PcfControl');
    const methods = Object.fromEntries(svc.method.map((x: any) => [x.name, { in: x.inputType, out: x.outputType, stream: !!x.serverStreaming }]));
    const declared = [...fs.readFileSync('proto/pcf/v1/pcf.proto', 'utf8').matchAll(/^\s*rpc (\w+)\s*\(/gm)].map((x) => x[1]).sort();
    assert.deepEqual(Object.keys(methods).sort(), declared);
    assert.deepEqual(methods.UpsertFlow, { in: '.pcf.v1.UpsertFlowRequest', out: '.pcf.v1.UpsertFlowResponse', stream: false });
    assert.equal(methods.WatchFlows.stream, true);
  });

  it('describes Health from its symbol; an unknown symbol is NOT_FOUND', async () => {
    const fds = files(await ask({ file_containing_symbol: 'grpc.health.v1.Health' }));
    assert.ok(fds.some((f) => f.package === 'grpc.health.v1' && f.service.some((s: any) => s.name === 'Health')), fds.map((f) => f.name).join());
    const m = await ask({ file_containing_symbol: 'pcf.v1.Nope' });
    assert.equal(m.error_response.error_code, grpc.status.NOT_FOUND);
  });
});
