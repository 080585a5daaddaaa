// main.ts - the control plane's entry point: `tsx server/main.ts` (make up runs it).
import pino from 'pino';
import { startControlPlane } from './app.js';
import { loadConfig } from './config.js';

const cfg = loadConfig();
const log = pino({ level: cfg.logLevel });
try {
  const running = await startControlPlane(cfg, log);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await running.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
} catch (err) {
  log.fatal({ err }, 'failed to start the control plane');
  process.exit(1);
}
