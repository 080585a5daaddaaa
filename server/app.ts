// app.ts - wires config, SQLite, datapath and the service; used by main.ts and by tests.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import * as grpc from '@grpc/grpc-js';
import { isLoopback, Tokens } from './auth.js';
import type { Config } from './config.js';
import { Datapath } from './datapath.js';
import { openDatabase } from './db.js';
import { bindGrpc, createGrpcServer, shutdownGrpc } from './grpc.js';
import { createHttpApp } from './http.js';
import { FlowService } from './service.js';

export interface Running {
  service: FlowService;
  httpPort: number;
  grpcPort: number;
  close(): Promise<void>;
}

interface Security {
  tokens: Tokens | null;
  tls: { cert: Buffer; key: Buffer; clientCa: Buffer | null } | null;
}

/** A request that Node's HTTP parser refused (bad method, header, length): problem+json too. */
function answerClientError(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') return void socket.destroy();
  const big = err.code === 'HPE_HEADER_OVERFLOW';
  const status = big ? 431 : 400;
  const body = JSON.stringify({ type: 'about:blank', title: big ? 'Request header fields too large' : 'Bad request', status, detail: big ? 'the request line and headers are over 16 KB' : `not an HTTP request this server can read (${err.code ?? 'parse error'})` });
  socket.end(`HTTP/1.1 ${status} ${big ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * Only origin-form targets ("/flows?x") reach the app; an absolute-form one is reduced to its
 * path when it parses, else, like "*" or "http://[", answered 400 here (Express would answer
 * those with an HTML page, bypassing every middleware).
 */
function originForm(app: http.RequestListener): http.RequestListener {
  return (req, res) => {
    let url = req.url ?? '';
    if (!url.startsWith('/')) {
      try {
        const u = new URL(url);
        url = `${u.pathname}${u.search}`;
      } catch {
        url = '';
      }
    }
    if (!url.startsWith('/')) {
      const body = JSON.stringify({ type: 'about:blank', title: 'Bad request', status: 400, detail: 'the request target is not a path ("/flows")' });
      res.writeHead(400, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    req.url = url;
    app(req, res);
  };
}

/** Reads the token file and certificates; refuses to listen beyond loopback unauthenticated. */
function security(cfg: Config, log: Logger): Security {
  const read = (name: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`${name}=${file}: ${(err as Error).message}`);
    }
  };
  const tokens = cfg.authTokenFile ? Tokens.load(cfg.authTokenFile) : null;
  const tls = cfg.tls && {
    cert: read('PCF_TLS_CERT', cfg.tls.cert),
    key: read('PCF_TLS_KEY', cfg.tls.key),
    clientCa: cfg.tls.clientCa ? read('PCF_TLS_CLIENT_CA', cfg.tls.clientCa) : null,
  };
  const exposed = [`PCF_HTTP=${cfg.http.host}`, `PCF_GRPC=${cfg.grpc.host}`].filter((_, i) => !isLoopback([cfg.http.host, cfg.grpc.host][i]));
  if (exposed.length && !tokens && !tls?.clientCa) {
    const what = `${exposed.join(' and ')} listen beyond loopback without authentication: anyone who reaches the port could change the rules`;
    if (!cfg.insecure) throw new Error(`${what}. Set PCF_AUTH_TOKEN_FILE (bearer tokens), or PCF_TLS_CERT, PCF_TLS_KEY and PCF_TLS_CLIENT_CA (client certificates), or PCF_INSECURE=1 to accept that`);
    log.warn(`${what} (PCF_INSECURE=1)`);
  }
  return { tokens, tls };
}

export async function startControlPlane(cfg: Config, log: Logger = pino({ level: cfg.logLevel })): Promise<Running> {
  const sec = security(cfg, log);
  const db = openDatabase(cfg.dbPath);
  const service = new FlowService(db, new Datapath(cfg.pinDir, log), log, cfg.workerStaleMs, cfg.workerExpireMs, cfg.driftCheckMs);
  service.start(cfg.datapathPollMs);

  const app = createHttpApp(service, log, sec.tokens);
  const handler = originForm(app);
  // requireHostHeader off: the app answers a request without Host (as problem+json), not Node.
  const server = sec.tls
    ? https.createServer({ requireHostHeader: false, cert: sec.tls.cert, key: sec.tls.key, ...(sec.tls.clientCa ? { ca: sec.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, handler)
    : http.createServer({ requireHostHeader: false }, handler);
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.http.port, cfg.http.host, () => resolve());
  });
  const httpPort = (server.address() as { port: number }).port;
  const grpcServer: grpc.Server = createGrpcServer(service, log, cfg.grpcLimits, { tokens: sec.tokens });
  const creds = sec.tls
    ? grpc.ServerCredentials.createSsl(sec.tls.clientCa, [{ cert_chain: sec.tls.cert, private_key: sec.tls.key }], !!sec.tls.clientCa)
    : grpc.ServerCredentials.createInsecure();
  const grpcPort = await bindGrpc(grpcServer, `${cfg.grpc.host}:${cfg.grpc.port}`, creds);
  let localServer: grpc.Server | null = null;
  if (cfg.grpcUnix) {
    // The socket also takes the workers' reports; its file mode (root's only) is its
    // authentication. A socket file left by a killed predecessor would make the bind fail.
    localServer = createGrpcServer(service, log, cfg.grpcLimits, { tokens: null, workerReport: true });
    fs.mkdirSync(path.dirname(cfg.grpcUnix), { recursive: true });
    fs.rmSync(cfg.grpcUnix, { force: true });
    await bindGrpc(localServer, `unix:${cfg.grpcUnix}`, grpc.ServerCredentials.createInsecure());
    fs.chmodSync(cfg.grpcUnix, 0o600); // connecting needs write permission: root only
  }
  log.info({
    http: `${sec.tls ? 'https' : 'http'}://${cfg.http.host}:${httpPort}`, grpc: `${cfg.grpc.host}:${grpcPort}${sec.tls ? ' (TLS)' : ''}`,
    auth: [sec.tokens ? 'bearer tokens' : null, sec.tls?.clientCa ? 'client certificates' : null].filter(Boolean).join(' + ') || 'none',
    grpcUnix: cfg.grpcUnix, db: cfg.dbPath, pinDir: cfg.pinDir,
  }, 'control plane listening');

  return {
    service,
    httpPort,
    grpcPort,
    async close() {
      await Promise.all([
        new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
        shutdownGrpc(grpcServer),
        ...(localServer ? [shutdownGrpc(localServer)] : []),
      ]);
      await service.stop();
      db.close();
    },
  };
}
