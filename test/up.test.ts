// up.test.ts - the operator interface: `make up` twice side by side (different lab names, pin
// dirs, ports and databases), idempotent, each enforcing its own rules; `make down` removes
// one lab entirely and leaves the other running.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort, tempDb } from './lib/cp.js';
import { datapathUnavailable, ROOT, uniqueName } from './lib/env.js';
import { CLIENT_IP, Lab, SERVER_IP } from './lib/lab.js';
import { udpReceiver, udpSend } from './lib/traffic.js';

const run = promisify(execFile);
const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`make up tests need the datapath under CI=true: ${why}`);

interface Node {
  env: NodeJS.ProcessEnv;
  http: string;
  lab: Lab;
  db: { dir: string };
}

async function makeNode(): Promise<Node> {
  const name = uniqueName('u');
  const db = tempDb();
  const http = `127.0.0.1:${await freePort()}`;
  const env = {
    ...process.env, PCF_LAB: name, PCF_PIN_DIR: `/sys/fs/bpf/${name}`, PCF_HTTP: http,
    PCF_GRPC: `127.0.0.1:${await freePort()}`, PCF_DB: db.file,
  };
  return { env, http, lab: Lab.named(name), db };
}

const make = (n: Node, target: string) => run('make', ['-s', '--no-print-directory', target], { cwd: ROOT, env: n.env, timeout: 300_000 });

describe('make up / make down', { skip: why ?? false }, () => {
  const nodes: Node[] = [];
  after(async () => {
    for (const n of nodes) {
      await make(n, 'down').catch(() => {});
      fs.rmSync(n.db.dir, { recursive: true, force: true });
    }
  });

  it('two labs run side by side, make up is idempotent, make down removes one and leaves the other', async () => {
    const a = await makeNode();
    const b = await makeNode();
    nodes.push(a, b);
    const upA = await make(a, 'up');
    assert.match(upA.stdout, /control plane: started/);
    await make(b, 'up');
    const again = await make(a, 'up');
    assert.match(again.stdout, /lab .*: already up/);
    assert.match(again.stdout, /no change/);
    assert.match(again.stdout, /control plane: already running/);

    for (const n of [a, b]) assert.equal((await fetch(`http://${n.http}/readyz`)).status, 200);
    const r = await fetch(`http://${a.http}/flows`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 41000, dst_port: 7100, proto: 'udp' }, action: { type: 'DROP' } }),
    });
    assert.equal(r.status, 201);

    // The same flow in both labs: dropped in A only.
    const got: number[] = [];
    for (const n of [a, b]) {
      const rx = await udpReceiver(n.lab, 7100);
      await udpSend(n.lab, 7100, 41000, 20);
      got.push((await rx.result()).received);
    }
    assert.deepEqual(got, [0, 20]);

    await make(a, 'down');
    const { stdout: ns } = await run('ip', ['netns', 'list']);
    assert.doesNotMatch(ns, new RegExp(`^${a.env.PCF_LAB}-`, 'm'), 'lab A namespaces removed');
    assert.match(ns, new RegExp(`^${b.env.PCF_LAB}-dut`, 'm'), 'lab B still there');
    assert.equal(fs.existsSync(a.env.PCF_PIN_DIR!), false, 'lab A pins removed');
    await assert.rejects(fetch(`http://${a.http}/healthz`), 'lab A control plane stopped');
    assert.equal((await fetch(`http://${b.http}/readyz`)).status, 200);
    assert.ok(fs.existsSync(a.env.PCF_DB!), 'the SQLite file stays');
    await make(b, 'down');
    assert.equal(fs.existsSync(b.env.PCF_PIN_DIR!), false);
  });
});

describe('pid files (scripts/common.sh)', () => {
  /** Runs bash with common.sh sourced and STATE_DIR in a temp dir; its stdout. */
  const sh = async (dir: string, script: string) =>
    (await run('bash', ['-c', `set -e; cd "${ROOT}"; . scripts/common.sh; STATE_DIR="${dir}"; ${script}`])).stdout.trim();

  it('a killed process not yet reaped (a zombie) and a pid taken by another process do not count as running; the live one does', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-pid-'));
    const kids: number[] = [];
    try {
      // A zombie: the child exits and its parent never reaps it (perl, which is in every Debian,
      // leaves SIGCHLD alone; a shell may reap a background job before it execs).
      const parent = spawn('perl', ['-e', 'my $p = fork(); exit 0 unless $p; open(my $f, ">", $ARGV[0]) or die; print $f "$p\n"; close $f; sleep 30', path.join(dir, 'zombie')], { stdio: 'ignore' });
      kids.push(parent.pid!);
      let zombie = 0;
      for (let i = 0; i < 100 && !zombie; i++) {
        const z = Number(fs.readFileSync(path.join(dir, 'zombie'), { encoding: 'utf8', flag: 'a+' }).trim());
        let state = '';
        try {
          state = z ? fs.readFileSync(`/proc/${z}/stat`, 'utf8') : '';
        } catch {
          /* not there yet */
        }
        if (/\) Z /.test(state)) zombie = z;
        else await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(zombie, 'the zombie was made');
      fs.writeFileSync(path.join(dir, 'control.pid'), `${zombie}\n`);
      assert.equal(await sh(dir, `kill -0 ${zombie} && echo alive`), 'alive', 'kill -0 is fooled by the zombie');
      assert.equal(await sh(dir, 'control_pid || echo none'), 'none');

      const live = spawn('sleep', ['30'], { stdio: 'ignore' });
      kids.push(live.pid!);
      assert.equal(await sh(dir, `write_pid control ${live.pid}; control_pid`), String(live.pid));
      // The same pid with another start time: a process that took the pid after ours died.
      const [pid, start] = fs.readFileSync(path.join(dir, 'control.pid'), 'utf8').trim().split(' ');
      fs.writeFileSync(path.join(dir, 'control.pid'), `${pid} ${Number(start) - 1}\n`);
      assert.equal(await sh(dir, 'control_pid || echo none'), 'none');
    } finally {
      for (const k of kids) try { process.kill(k, 'SIGKILL'); } catch { /* gone */ }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
