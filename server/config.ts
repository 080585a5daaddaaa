// config.ts - the control plane's settings, from the environment (README: Configuration).
import path from 'node:path';

export interface Config {
  pinDir: string;
  http: { host: string; port: number };
  grpc: { host: string; port: number };
  dbPath: string;
  /** How often the pinned maps are checked for (re)appearance, in ms. */
  datapathPollMs: number;
  logLevel: string;
}

function hostPort(name: string, value: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m) throw new Error(`${name}=${value}: expected host:port`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`${name}=${value}: port out of range`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const pollMs = Number(env.PCF_DATAPATH_POLL_MS ?? 1000);
  if (!Number.isInteger(pollMs) || pollMs < 10) throw new Error(`PCF_DATAPATH_POLL_MS=${env.PCF_DATAPATH_POLL_MS}: expected an integer >= 10`);
  return {
    pinDir: env.PCF_PIN_DIR || '/sys/fs/bpf/pcf',
    http: hostPort('PCF_HTTP', env.PCF_HTTP || '127.0.0.1:8080'),
    grpc: hostPort('PCF_GRPC', env.PCF_GRPC || '127.0.0.1:50051'),
    dbPath: env.PCF_DB || path.resolve('var/pcf.db'),
    datapathPollMs: pollMs,
    logLevel: env.PCF_LOG_LEVEL || 'info',
  };
}
