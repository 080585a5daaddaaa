// cp.ts - the control plane for tests: in-process on ports 0, or as a real child process
// (for restarts and kill -9), each with its own SQLite file; and a gRPC client.
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { startControlPlane, type Running } from '../../server/app.js';
import { loadPcfPackage } from '../../api/proto.js';
import type { PcfControlClient, PcfControlDefinition } from '../../server/generated/proto/pcf/v1/PcfControl.js';
import type { WorkerReportDefinition } from '../../server/generated/proto/pcf/v1/WorkerReport.js';
import { DEFAULT_GRPC_LIMITS, type Config } from '../../server/config.js';
import { ROOT } from './env.js';
import { Lab } from './lab.js';

export function tempDb(): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-test-'));
  return { dir, file: path.join(dir, 'pcf.db') };
}

export async function startInProcess(pinDir: string, dbPath: string, grpcUnix?: string, over: Partial<Config> = {}, log = pino({ level: 'silent' })): Promise<Running> {
  return startControlPlane(
    { pinDir, dbPath, http: { host: '127.0.0.1', port: 0 }, grpc: { host: '127.0.0.1', port: 0 }, grpcUnix: grpcUnix ?? null, datapathPollMs: 100, logLevel: 'silent', workerStaleMs: 1000, workerExpireMs: 300_000, driftCheckMs: 5000, grpcLimits: DEFAULT_GRPC_LIMITS, authTokenFile: null, tls: null, insecure: false, ...over },
    log,
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** The control plane as `make up` runs it: a child process, killable with any signal. */
export class ChildControlPlane {
  proc: ChildProcess | null = null;
  log = '';
  constructor(readonly pinDir: string, readonly dbPath: string, readonly httpPort: number, readonly grpcPort: number) {}

  static async create(pinDir: string, dbPath: string): Promise<ChildControlPlane> {
    return new ChildControlPlane(pinDir, dbPath, await freePort(), await freePort());
  }

  /** Where a worker in the lab's DUT namespace reaches this control plane. */
  get grpcUnix(): string {
    return path.join(path.dirname(this.dbPath), 'grpc.sock');
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Spawns it and waits until /healthz answers (timeoutMs: a start-up with many rules takes longer). */
  async start(timeoutMs = 20_000): Promise<void> {
    // PCF_TEST_NODE_ARGS: extra node flags for the child, e.g. --cpu-prof when profiling a benchmark.
    const extra = process.env.PCF_TEST_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    this.proc = spawn(process.execPath, [...extra, '--import', 'tsx', path.join(ROOT, 'server/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env, PCF_PIN_DIR: this.pinDir, PCF_DB: this.dbPath, PCF_HTTP: `127.0.0.1:${this.httpPort}`,
        PCF_GRPC: `127.0.0.1:${this.grpcPort}`, PCF_GRPC_UNIX: this.grpcUnix, PCF_DATAPATH_POLL_MS: '100', PCF_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (d) => (this.log += d));
    this.proc.stderr!.on('data', (d) => (this.log += d));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`control plane exited ${this.proc.exitCode}: ${this.log}`);
      try {
        const r = await fetch(`${this.url}/healthz`);
        if (r.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`control plane did not start in ${timeoutMs / 1000} s: ${this.log}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }
}

/** A PcfControl client, typed by the generated types (server/generated/proto). */
export type PcfClient = PcfControlClient;

export function grpcClient(port: number): PcfClient {
  return new (loadPcfPackage().pcf.v1.PcfControl)(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': 64 << 20,
    'grpc.max_receive_message_length': 64 << 20,
  });
}

/** A client's methods by a name chosen at run time (a method table, the fuzzer): untyped. */
export const byName = (client: grpc.Client) => client as unknown as Record<string, (...args: any[]) => any>;

/** The unary methods of PcfControl and WorkerReport, by name. */
export type UnaryMethod = Exclude<keyof PcfControlDefinition, 'WatchFlows' | 'WatchPacketEvents'> | keyof WorkerReportDefinition;

/**
 * Promisified unary call: resolves the response or rejects with the grpc ServiceError. The
 * request is unknown on purpose: tests send what the server must refuse too.
 */
export function call<T = any>(client: grpc.Client, method: UnaryMethod, req: unknown): Promise<T> {
  const fn = (client as unknown as Record<UnaryMethod, (req: unknown, cb: (err: grpc.ServiceError | null, res: T) => void) => void>)[method];
  return new Promise((resolve, reject) => fn.call(client, req, (err, res) => (err ? reject(err) : resolve(res))));
}

/** A lab with XDP attached and an in-process control plane on it, with clients; close() removes all. */
export interface LabNode {
  lab: Lab;
  cp: Running;
  rpc: PcfClient;
  http: ReturnType<typeof request>;
  close(): Promise<void>;
}

export async function startLabNode(loaderArgs: string[] = []): Promise<LabNode> {
  const lab = await Lab.create({ loaderArgs });
  const db = tempDb();
  let cp: Running | undefined;
  try {
    cp = await startInProcess(lab.pinDir, db.file);
  } catch (err) {
    await lab.destroy();
    fs.rmSync(db.dir, { recursive: true, force: true });
    throw err;
  }
  const rpc = grpcClient(cp.grpcPort);
  return {
    lab, cp, rpc, http: request(`http://127.0.0.1:${cp.httpPort}`),
    async close() {
      rpc.close();
      await cp!.close();
      await lab.destroy();
      fs.rmSync(db.dir, { recursive: true, force: true });
    },
  };
}
