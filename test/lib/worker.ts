// worker.ts - the DPDK worker for node tests: started in a lab's DUT namespace with nsenter
// (bpffs stays visible), in wakeup mode (2 cores), reporting to a control plane's Unix socket.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './env.js';
import type { Lab } from './lab.js';

export const WORKER = path.join(ROOT, 'build/pcf-worker');

/** Reserves hugepages for EAL --in-memory when fewer than `need` are free. */
export function ensureHugepages(need = 128): void {
  const free = Number(/HugePages_Free:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  if (free >= need) return;
  const total = Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8'));
  fs.writeFileSync('/proc/sys/vm/nr_hugepages', String(total + need - free));
}

export class Worker {
  proc: ChildProcess | null = null;
  log = '';

  /** reverse: also receive on dut1 (attachment 1) and send out of dut0; needs lab.attachReverse(). */
  constructor(readonly lab: Lab, readonly args: string[], readonly opts: { reverse?: boolean; lcores?: string; cpus?: string } = {}) {}

  /** Starts and resolves once it printed "ready"; rejects with its log if it exits first. */
  async start(): Promise<void> {
    ensureHugepages();
    this.log = '';
    // The main lcore, then one per (interface, queue): on two CPUs, in wakeup mode.
    const lcores = this.opts.lcores ?? (this.opts.reverse ? '0@0,1@0,2@1' : '0@0,1@1');
    // cpus: every thread of the worker on these CPUs (its lcores go where --lcores says; its
    // control and report threads would otherwise take the spawner's affinity).
    const cmd = ['nsenter', `--net=/run/netns/${this.lab.dut}`, WORKER];
    if (this.opts.cpus) cmd.unshift('taskset', '-c', this.opts.cpus);
    this.proc = spawn(cmd[0], [...cmd.slice(1), '--in-memory', '--no-pci', '--lcores', lcores,
      '--file-prefix', `${this.lab.name}-w`, '--', '--iface', 'dut0', '--pin-dir', this.lab.pinDir, '--egress', 'iface:dut1',
      '--poll', 'wakeup', ...(this.opts.reverse ? ['--reverse'] : []), ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const p = this.proc;
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        this.log += d;
        if (this.log.includes('pcf-worker: ready')) resolve();
      };
      p.stdout!.on('data', onData);
      p.stderr!.on('data', onData);
      p.once('exit', (code) => reject(new Error(`pcf-worker exited ${code}:\n${this.log}`)));
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    return exited;
  }
}
