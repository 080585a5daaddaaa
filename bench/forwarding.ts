// forwarding.ts - packets per second delivered at <lab>-server for the three paths of a
// REDIRECT design, in one run on one lab, from the same generator (trafgen in <lab>-client,
// one CPU, as fast as it can, bounded in time):
//   kernel   a PASS rule: XDP passes, the DUT kernel forwards
//   worker   a REDIRECT rule with ttl_delta -5 and DNAT: XDP -> AF_XDP -> worker -> dut1
//   killed   the same REDIRECT rule with the worker killed: XDP's fallback to the kernel
// with ratios to the kernel path and CPU use (the worker's, and the whole machine's).
//   node --import tsx bench/forwarding.ts [--seconds 5] [--poll wakeup|busy] [--json]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startInProcess, tempDb } from '../test/lib/cp.js';
import { datapathUnavailable } from '../test/lib/env.js';
import { CLIENT_IP, Lab, SERVER_IP } from '../test/lib/lab.js';
import { Worker, WORKER } from '../test/lib/worker.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const SECONDS = Number(opt('--seconds', '5'));
const POLL = opt('--poll', 'wakeup');
const MAX_PACKETS = 20_000_000; // trafgen stops at this count or after SECONDS, whichever first

const ticks = () => { // jiffies of all CPUs: [busy, total]
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.reduce((a, b) => a + b, 0);
  return [total - idle, total];
};
const procTicks = (pid: number) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, all threads
};
const linkPackets = (lab: Lab, ns: string, dev: string, dir: 'rx' | 'tx') =>
  JSON.parse(execFileSync('ip', ['-n', ns, '-s', '-j', 'link', 'show', dev], { encoding: 'utf8' }))[0].stats64[dir].packets as number;
const mac = (ns: string, dev: string) =>
  JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', dev], { encoding: 'utf8' }))[0].address as string;

interface Row { path: string; offered_pps: number; delivered_pps: number; ratio_to_kernel?: number; worker_cpu_pct: number | null; machine_cpu_pct: number }

async function runPhase(lab: Lab, conf: string, name: string, workerPid: number | null): Promise<Row> {
  const tx0 = linkPackets(lab, lab.client, 'c0', 'tx');
  const rx0 = linkPackets(lab, lab.server, 's0', 'rx');
  const [b0, t0] = ticks();
  const w0 = workerPid ? procTicks(workerPid) : 0;
  const start = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', lab.client, 'timeout', String(SECONDS), 'trafgen', '--dev', 'c0', '--conf', conf,
      '--cpus', '1', '-n', String(MAX_PACKETS), '-q'], { stdio: 'ignore' });
    p.on('exit', (code) => (code === 0 || code === 124 ? resolve() : reject(new Error(`trafgen exited ${code}`))));
  });
  await new Promise((r) => setTimeout(r, 200)); // let the last packets drain
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const [b1, t1] = ticks();
  const hz = 100; // USER_HZ
  return {
    path: name,
    offered_pps: Math.round((linkPackets(lab, lab.client, 'c0', 'tx') - tx0) / secs),
    delivered_pps: Math.round((linkPackets(lab, lab.server, 's0', 'rx') - rx0) / secs),
    worker_cpu_pct: workerPid ? Math.round(((procTicks(workerPid) - w0) / hz / secs) * 100) : null,
    machine_cpu_pct: Math.round(((b1 - b0) / (t1 - t0)) * 100 * os.cpus().length),
  };
}

async function main() {
  const why = datapathUnavailable() ?? (fs.existsSync(WORKER) ? null : `worker not built: ${WORKER}`);
  if (why) throw new Error(`cannot run: ${why}`);
  execFileSync('which', ['trafgen']);
  const lab = await Lab.create();
  const db = tempDb();
  const cp = await startInProcess(lab.pinDir, db.file);
  const worker = new Worker(lab, []);
  const conf = path.join(db.dir, 'udp.trafgen');
  try {
    // One 64-byte UDP frame, addressed to dut0 as the client's kernel would.
    fs.writeFileSync(conf, `{
  eth(da=${mac(lab.dut, 'dut0')}, sa=${mac(lab.client, 'c0')}, type=0x0800),
  ipv4(saddr=${CLIENT_IP}, daddr=${SERVER_IP}, ttl=64),
  udp(sp=5000, dp=7000),
  fill(0x41, 18)
}\n`);
    const key = { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 5000, dst_port: 7000, proto: 17 };
    const rows: Row[] = [];
    await cp.service.upsert({ key, action: { type: 'PASS' } });
    rows.push(await runPhase(lab, conf, 'kernel (PASS)', null));

    await cp.service.upsert({ key, action: { type: 'REDIRECT', ttl_delta: -5, nat: { dnat_port: 7001 } } });
    worker.args.push('--poll', POLL);
    await worker.start();
    rows.push(await runPhase(lab, conf, `worker (REDIRECT ttl-5 dnat, ${POLL})`, worker.proc!.pid!));
    await worker.stop('SIGKILL');
    rows.push(await runPhase(lab, conf, 'REDIRECT, worker killed', null));

    for (const r of rows) r.ratio_to_kernel = +(r.delivered_pps / rows[0].delivered_pps).toFixed(2);
    if (args.includes('--json')) console.log(JSON.stringify({ seconds: SECONDS, frame_bytes: 60, rows }, null, 2));
    else {
      console.log(`one trafgen CPU in ${lab.client}, ${SECONDS} s per path, 60-byte UDP frames`);
      console.log('path                                   offered pps  delivered pps  ratio  worker CPU  machine CPU (of 200%)');
      for (const r of rows)
        console.log(`${r.path.padEnd(38)} ${String(r.offered_pps).padStart(11)} ${String(r.delivered_pps).padStart(14)} ${r.ratio_to_kernel!.toFixed(2).padStart(6)} ${(r.worker_cpu_pct === null ? '-' : `${r.worker_cpu_pct}%`).padStart(11)} ${`${r.machine_cpu_pct}%`.padStart(12)}`);
    }
  } finally {
    await worker.stop('SIGKILL');
    await cp.close();
    await lab.destroy();
    fs.rmSync(db.dir, { recursive: true, force: true });
  }
}

await main();
