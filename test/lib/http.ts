// http.ts - one timed HTTP request to a local control plane over a keep-alive agent, for benchmarks and load tests.
import { Agent, request } from 'node:http';

export interface TimedAnswer {
  status: number;
  /** From the call to the answer's last byte. */
  ms: number;
  bytes: number;
  text: string;
}

/** `method urlPath` to 127.0.0.1:port with a JSON body if there is one. */
export function timedRequest(agent: Agent, port: number, method: string, urlPath: string, body?: string): Promise<TimedAnswer> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = request({ host: '127.0.0.1', port, path: urlPath, method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const all = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: all.length, text: all.toString() });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
