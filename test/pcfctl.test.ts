// pcfctl end to end: the control plane in-process on free ports (temp SQLite, no datapath:
// the pin dir does not exist, rules are still stored), bin/pcfctl as a child process against
// it over REST and gRPC.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startControlPlane, type Running } from '../server/app.js';
import { loadConfig } from '../server/config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PCFCTL = path.join(ROOT, 'bin', 'pcfctl');

let tmp: string;
let cp: Running;

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Async on purpose: the server runs in this process and must keep answering. */
function run(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; bin?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.bin ?? PCFCTL, args, { cwd: opts.cwd ?? tmp, env: opts.env ?? baseEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The server's addresses through the environment, as a user would set them. */
function baseEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PCF_HTTP: `127.0.0.1:${cp.httpPort}`, PCF_GRPC: `127.0.0.1:${cp.grpcPort}` };
}

function ok(r: Result): Result {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolves with the child's stdout once it matches `re`; rejects if it exits or times out first. */
function waitFor(child: ChildProcess, re: RegExp, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err?: Error) => {
      clearTimeout(t);
      child.stdout!.off('data', onData);
      child.off('close', onClose);
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (d: Buffer) => {
      buf += d;
      if (re.test(buf)) done();
    };
    const onClose = (code: number | null) => done(new Error(`exited (${code}) before printing ${re}; got:\n${buf}`));
    const t = setTimeout(() => done(new Error(`timed out waiting for ${re}; got:\n${buf}`)), ms);
    child.stdout!.on('data', onData);
    child.on('close', onClose);
  });
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pcfctl-test-'));
  const cfg = loadConfig({
    PCF_DB: path.join(tmp, 'pcf.db'),
    PCF_PIN_DIR: path.join(tmp, 'no-such-pin-dir'),
    PCF_HTTP: '127.0.0.1:0',
    PCF_GRPC: '127.0.0.1:0',
    PCF_LOG_LEVEL: 'silent',
  });
  cp = await startControlPlane(cfg, pino({ level: 'silent' }));
});

after(async () => {
  await cp?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

for (const [transport, n] of [['rest', 1], ['grpc', 2]] as const) {
  describe(`pcfctl over ${transport}`, () => {
    const t = ['--transport', transport];
    // Keys differ by transport so that both blocks work on their own rules.
    const src = `198.18.0.${n}`;
    const keyText = `${src}:1234 -> 198.18.1.1:80 udp`;
    const addArgs = ['flows', 'add', '--src-ip', src, '--dst-ip', '198.18.1.1', '--src-port', '1234', '--dst-port', '80', '--proto', 'udp'];
    let id = 0;

    it('adds a rule, then updates it under the same id', async () => {
      const created = ok(await run([...t, ...addArgs, '--action', 'PASS']));
      const m = /^created flow (\d+)  (.*)  PASS$/m.exec(created.stdout);
      assert.ok(m, created.stdout);
      id = Number(m[1]);
      assert.equal(m[2], keyText);

      const updated = ok(await run([...t, ...addArgs, '--action', 'redirect', '--ttl-delta', '-5', '--dnat-ip', '198.18.1.2', '--dnat-port', '8080', '--mark', '273', '--queue-id', '0']));
      assert.equal(updated.stdout, `updated flow ${id}  ${keyText}  REDIRECT ttl-5 dnat=198.18.1.2:8080 mark=273 q0\n`);
    });

    it('--json prints the API document', async () => {
      const r = ok(await run([...t, '--json', ...addArgs, '--action', 'REDIRECT', '--ttl-delta=-5', '--dnat-ip', '198.18.1.2', '--dnat-port', '8080', '--mark', '273', '--queue-id', '0']));
      const doc = JSON.parse(r.stdout);
      const flow = transport === 'rest' ? doc : doc.flow; // gRPC: UpsertFlowResponse
      assert.equal(flow.id, id);
      assert.deepEqual(flow.key, { src_ip: src, dst_ip: '198.18.1.1', src_port: 1234, dst_port: 80, proto: 17 });
      assert.equal(flow.action.type, 'REDIRECT');
      assert.equal(flow.action.nat.dnat_port, 8080);
    });

    it('lists rules as a table and as JSON', async () => {
      const r = ok(await run([...t, 'flows', 'list', '--src-ip', src]));
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0], /^\s*ID {2}KEY +ACTION +REV {2}UPDATED$/);
      assert.equal(lines.length, 2, r.stdout);
      assert.match(lines[1], new RegExp(`^\\s*${id}  ${keyText.replace(/[.>-]/g, '\\$&')} +REDIRECT ttl-5 dnat=198\\.18\\.1\\.2:8080 mark=273 q0 +\\d+  \\d{4}-`));
      // the columns line up: KEY starts at the same offset on every line
      assert.equal(lines[0].indexOf('KEY'), lines[1].indexOf(src));

      const j = JSON.parse(ok(await run([...t, '--json', 'flows', 'list', '--type', 'REDIRECT', '--proto', 'udp'])).stdout);
      assert.ok(j.flows.some((f: { id: number }) => f.id === id));
    });

    it('gets one rule', async () => {
      const r = ok(await run([...t, 'flows', 'get', String(id)]));
      assert.match(r.stdout, new RegExp(`^id +${id}$`, 'm'));
      assert.match(r.stdout, /^key +198\.18\.0\.\d:1234 -> 198\.18\.1\.1:80 udp$/m);
      assert.match(r.stdout, /^counters +- \(datapath absent\)$/m);
      const j = JSON.parse(ok(await run([...t, '--json', 'flows', 'get', String(id)])).stdout);
      assert.equal(j.id, id);
      assert.equal(j.action.mark, 273);
    });

    it('reports the field at fault, exit 1', async () => {
      const bad = await run([...t, 'flows', 'add', '--src-ip', '300.1.1.1', '--dst-ip', '198.18.1.1', '--src-port', '1', '--dst-port', '2', '--proto', 'tcp', '--action', 'PASS']);
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stderr, /^pcfctl: key\.src_ip: /m);
      assert.equal(bad.stdout, '');

      const two = await run([...t, 'flows', 'add', '--src-ip', src, '--dst-ip', '198.18.1.1', '--src-port', '5', '--dst-port', '0', '--proto', 'icmp', '--action', 'DROP', '--mark', '7']);
      assert.equal(two.code, 1, two.stderr);
      assert.match(two.stderr, /^pcfctl: key\.src_port: must be 0 for ICMP/m);
      assert.match(two.stderr, /^pcfctl: action\.mark: /m);

      const missing = await run([...t, 'flows', 'get', '999999']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^pcfctl: id: no flow with id 999999$/m);
    });

    it('adds a file of rules', async () => {
      const file = path.join(tmp, `rules-${transport}.json`);
      const rules = [10, 11, 12].map((p) => ({
        key: { src_ip: src, dst_ip: '198.18.1.9', src_port: p, dst_port: 443, proto: 'tcp' },
        action: { type: 'DROP' },
      }));
      fs.writeFileSync(file, JSON.stringify(rules));
      const r = ok(await run([...t, 'flows', 'add', '--file', file]));
      assert.match(r.stdout, /^created 3, updated 0/);
      assert.match(r.stdout, new RegExp(`${src.replace(/\./g, '\\.')}:11 -> 198\\.18\\.1\\.9:443 tcp +DROP$`, 'm'));
      const again = ok(await run([...t, '--json', 'flows', 'add', '--file', file]));
      const doc = JSON.parse(again.stdout);
      if (transport === 'grpc') assert.equal(doc.updated, 3);
      else assert.equal(doc.length, 3);

      // --all follows next_cursor: 3 pages of 1
      const all = JSON.parse(ok(await run([...t, '--json', 'flows', 'list', '--dst-ip', '198.18.1.9', '--src-ip', src, '--limit', '1', '--all'])).stdout);
      assert.equal(all.flows.length, 3);
      const one = await run([...t, 'flows', 'list', '--dst-ip', '198.18.1.9', '--src-ip', src, '--limit', '1']);
      assert.match(one.stderr, /more flows after id \d+: add --cursor \d+, or --all/);

      // a bad rule names its index
      fs.writeFileSync(file, JSON.stringify([rules[0], { ...rules[1], action: { type: 'DROP', ttl_delta: 3 } }]));
      const bad = await run([...t, 'flows', 'add', '--file', file]);
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stderr, /^pcfctl: flows\[1\]\.action\.ttl_delta: /m);
    });

    it('stats shows the datapath absent', async () => {
      const r = ok(await run([...t, 'stats']));
      assert.match(r.stdout, /^datapath +absent/m);
      assert.match(r.stdout, new RegExp(`^pin dir +${tmp.replace(/[.]/g, '\\.')}/no-such-pin-dir$`, 'm'));
      assert.match(r.stdout, /^rules +\d+ in db, - in map, capacity -$/m);
      assert.match(r.stdout, /^XDP counters: none \(datapath absent\)$/m);
      assert.match(r.stdout, /^workers: none reporting$/m);
      const j = JSON.parse(ok(await run([...t, '--json', 'stats'])).stdout);
      assert.ok(!j.datapath.present); // gRPC leaves proto3 defaults (false) out
      assert.ok(j.datapath.rules_in_db >= 1);
    });

    it('deletes a rule', async () => {
      const r = ok(await run([...t, 'flows', 'del', String(id)]));
      assert.equal(r.stdout, `deleted flow ${id}\n`);
      const gone = await run([...t, 'flows', 'get', String(id)]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /id: no flow with id/);
    });

    it('deletes several rules at once, or none when one id is unknown', async () => {
      const made: number[] = [];
      for (const port of [41001, 41002]) {
        const doc = JSON.parse(ok(await run([...t, '--json', 'flows', 'add', '--src-ip', src, '--dst-ip', '198.18.1.9', '--src-port', String(port), '--dst-port', '80', '--proto', 'udp', '--action', 'PASS'])).stdout);
        made.push(Number(doc.flow?.id ?? doc.id));
      }
      const bad = await run([...t, 'flows', 'del', String(made[0]), '999999']);
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stderr, /ids\[1\]: no flow with id 999999/);
      ok(await run([...t, 'flows', 'get', String(made[0])]));
      const r = ok(await run([...t, 'flows', 'del', ...made.map(String)]));
      assert.match(r.stdout, /^deleted 2 flows \(revision \d+\)$/m);
      assert.equal((await run([...t, 'flows', 'get', String(made[1])])).code, 1);
    });

    it('exits 3 naming the address when the server is down', async () => {
      const port = await deadPort();
      const r = await run([...t, '--http', `127.0.0.1:${port}`, '--grpc', `127.0.0.1:${port}`, 'flows', 'list']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, new RegExp(`^pcfctl: cannot reach the control plane at (http://)?127\\.0\\.0\\.1:${port}`, 'm'));
    });
  });
}

describe('pcfctl usage', () => {
  it('exits 2 on usage errors', async () => {
    const missing = await run(['flows', 'add', '--src-ip', '198.18.0.1']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^pcfctl: flows add: missing --dst-ip, --proto, --action, --src-port, --dst-port/m);
    const notInt = await run(['flows', 'add', '--src-port', 'abc']);
    assert.equal(notInt.code, 2);
    assert.match(notInt.stderr, /--src-port <n>' argument 'abc' is invalid/);
    const unknown = await run(['flows', 'frob']);
    assert.equal(unknown.code, 2);
    const badProto = await run(['flows', 'list', '--proto', 'sctp']);
    assert.equal(badProto.code, 2);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: pcfctl/);
  });

  it('runs through a symlink from another directory', async () => {
    const link = path.join(tmp, 'bin', 'pcfctl');
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(PCFCTL, link);
    const r = ok(await run(['stats'], { bin: link, cwd: os.tmpdir() }));
    assert.match(r.stdout, /^datapath +absent/m);
  });
});

describe('pcfctl watch', () => {
  it('prints an event for a rule added meanwhile, until interrupted', async () => {
    // Replay the last change so the first line shows the stream is open.
    const from = Math.max(0, cp.service.store.currentRevision - 1);
    for (const json of [false, true]) {
      const child = spawn(PCFCTL, [...(json ? ['--json'] : []), 'watch', '--from', String(from)], { cwd: tmp, env: baseEnv() });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      try {
        await waitFor(child, json ? /"revision"/ : /^ +\d+ {2}(UPSERT|DELETE)/m);
        const port = json ? 4001 : 4000;
        const seen = waitFor(child, new RegExp(`198\\.18\\.7\\.7.{0,40}${port}`));
        ok(await run(['flows', 'add', '--src-ip', '198.18.7.7', '--dst-ip', '198.18.1.1', '--src-port', String(port), '--dst-port', '53', '--proto', 'udp', '--action', 'DROP']));
        const text = await seen;
        if (json) {
          const ev = text.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.flow?.key?.src_port === port);
          assert.equal(ev.kind, 'UPSERT');
          assert.equal(ev.flow.action.type, 'DROP');
        } else {
          assert.match(stdout, /^ +REV {2}KIND +ID {2}KEY +ACTION\n/);
          assert.match(text, new RegExp(`^ +\\d+ {2}UPSERT +\\d+ {2}198\\.18\\.7\\.7:${port} -> 198\\.18\\.1\\.1:53 udp +DROP$`, 'm'));
        }
      } finally {
        child.kill('SIGINT');
      }
      assert.equal(await exited, 0, stderr);
    }
  });

  it('refuses --transport rest', async () => {
    const r = await run(['--transport', 'rest', 'watch']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /watch is gRPC only/);
  });
});
