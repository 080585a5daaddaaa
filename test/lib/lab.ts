// lab.ts - a lab of its own for a test: namespaces <name>-client/-dut/-server (scripts/lab.sh),
// IPv4 and IPv6, silent until the test sends (no ARP, ND, DAD or MLD on its links), a pin dir
// of its own, XDP attached on dut0 by the real loader. destroy() removes all of it and is safe
// to call twice or after a failed create.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { LOADER, ROOT, uniqueName } from './env.js';

const run = promisify(execFile);

export const CLIENT_IP = '198.18.0.1';
export const SERVER_IP = '198.18.1.1';
/** The same hosts over IPv6 (2001:2::/48, RFC 5180); the DUT is 2001:2::fe and 2001:2:0:1::fe. */
export const CLIENT_IP6 = '2001:2::1';
export const SERVER_IP6 = '2001:2:0:1::1';

export class Lab {
  readonly client: string;
  readonly dut: string;
  readonly server: string;
  readonly pinDir: string;

  private constructor(readonly name: string) {
    this.client = `${name}-client`;
    this.dut = `${name}-dut`;
    this.server = `${name}-server`;
    this.pinDir = `/sys/fs/bpf/${name}`;
  }

  /** A handle on a lab made by someone else (make up): no create, and destroy() is theirs. */
  static named(name: string): Lab {
    return new Lab(name);
  }

  /** Creates the namespaces; with attach (default) also loads XDP on dut0. */
  static async create(opts: { attach?: boolean; loaderArgs?: string[] } = {}): Promise<Lab> {
    const lab = new Lab(uniqueName());
    try {
      await run(path.join(ROOT, 'scripts/lab.sh'), ['up'], { env: { ...process.env, PCF_LAB: lab.name } });
      if (opts.attach ?? true) await lab.loader('attach', ...(opts.loaderArgs ?? []));
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  /** Runs build/pcf-xdp <cmd> --iface dut0 --pin-dir <pin> inside the DUT namespace (nsenter keeps bpffs). */
  async loader(cmd: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return this.loaderOn('dut0', cmd, ...args);
  }

  async loaderOn(iface: string, cmd: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run('nsenter', [`--net=/run/netns/${this.dut}`, LOADER, cmd, '--iface', iface, '--pin-dir', this.pinDir, ...args]);
  }

  /** XDP on dut1 as attachment 1 of the same pin dir: the replies of NATed flows reach the worker. */
  async attachReverse(): Promise<void> {
    await this.loaderOn('dut1', 'attach', '--attachment', '1');
  }

  /** Runs a command in one of the lab's namespaces. */
  exec(ns: string, cmd: string, args: string[], timeoutMs = 30_000) {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
  }

  spawn(ns: string, cmd: string, args: string[]): ChildProcess {
    return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** TX packets counted on an interface (for "counters equal the packets sent"). */
  txPackets(ns: string, dev: string): number {
    const out = execFileSync('ip', ['-n', ns, '-s', '-j', 'link', 'show', dev], { encoding: 'utf8' });
    return JSON.parse(out)[0].stats64.tx.packets;
  }

  async destroy(): Promise<void> {
    try {
      await this.loaderOn('dut1', 'detach', '--attachment', '1');
    } catch {
      /* attachment 1 was not attached */
    }
    try {
      await this.loader('detach', '--purge');
    } catch {
      /* not attached, or the lab never came up */
    }
    try {
      await run(path.join(ROOT, 'scripts/lab.sh'), ['down'], { env: { ...process.env, PCF_LAB: this.name } });
    } catch {
      /* already gone */
    }
    fs.rmSync(this.pinDir, { recursive: true, force: true });
  }
}
