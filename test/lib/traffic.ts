// traffic.ts - bounded UDP/TCP exchanges between a lab's client and server namespaces.
import path from 'node:path';
import { ROOT } from './env.js';
import { SERVER_IP, type Lab } from './lab.js';

const UDP = path.join(ROOT, 'test/tools/udp.mjs');
const TCP = path.join(ROOT, 'test/tools/tcp.mjs');

/** Starts a UDP counter in the server namespace; resolves once it listens. */
export async function udpReceiver(lab: Lab, port: number, maxMs = 60_000) {
  const p = lab.spawn(lab.server, process.execPath, [UDP, 'recv', String(port), String(maxMs)]);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    p.stderr!.on('data', (d) => String(d).includes('ready') && resolve());
    p.once('exit', (code) => reject(new Error(`udp receiver exited ${code}`)));
  });
  return {
    /** Stops the receiver after a moment for packets in flight, and gives its count. */
    result: async (settleMs = 300) => {
      await new Promise((r) => setTimeout(r, settleMs));
      const exited = new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)));
      p.kill('SIGTERM');
      await exited;
      return JSON.parse(out) as { received: number; from: Record<string, number>; longest_gap: number };
    },
    kill: () => p.kill(),
  };
}

/** Sends `count` datagrams from the client, `gapMs` apart; bounded by count and the exec timeout. */
export async function udpSend(lab: Lab, dstPort: number, srcPort: number, count: number, gapMs = 1, dst = SERVER_IP, bytes = 0): Promise<void> {
  await lab.exec(lab.client, process.execPath, [UDP, 'send', dst, String(dstPort), String(srcPort), String(count), String(gapMs), String(bytes)], 120_000);
}

export async function tcpServer(lab: Lab, port: number, maxMs = 60_000) {
  const p = lab.spawn(lab.server, process.execPath, [TCP, 'serve', String(port), String(maxMs)]);
  await new Promise<void>((resolve, reject) => {
    p.stderr!.on('data', (d) => String(d).includes('ready') && resolve());
    p.once('exit', (code) => reject(new Error(`tcp server exited ${code}`)));
  });
  return { kill: () => p.kill() };
}

export async function tcpExchange(lab: Lab, port: number, srcPort: number, bytes: number, timeoutMs: number, dst = SERVER_IP): Promise<{ ok: boolean; echoed?: number; error?: string }> {
  const { stdout } = await lab.exec(lab.client, process.execPath, [TCP, 'connect', dst, String(port), String(srcPort), String(bytes), String(timeoutMs)]);
  return JSON.parse(stdout);
}
