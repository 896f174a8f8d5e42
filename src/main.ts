import { loadConfigOrExit } from './config.js';
import { createLogger } from './logger.js';
import { startTelemetry } from './telemetry/index.js';

const config = loadConfigOrExit();

const log = createLogger(config.LOG_LEVEL);
if (config.usingDevelopmentSecret) log.warn('JWT_SECRET is not set: using the fixed development secret; never do this in production');

// Tracing starts before the service's modules load, so its instrumentations can wrap them.
const telemetry = await startTelemetry();
if (telemetry) log.info('tracing: exporting spans over OTLP');
const { startService } = await import('./service.js');
const service = await startService(config, log).catch((error: unknown) => {
  log.fatal({ err: error }, 'could not start');
  process.exit(1);
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => {
      log.error('did not stop within 15 s; exiting');
      process.exit(1);
    }, 15_000).unref();
    void service.stop().then(async () => {
      await telemetry?.shutdown().catch((error: unknown) => log.warn({ err: error }, 'could not flush the last spans'));
      clearTimeout(force);
      process.exit(0);
    });
  });
}
