import { loadConfigOrExit } from './config.js';
import { createLogger } from './logger.js';
import { startService } from './service.js';

const config = loadConfigOrExit();

const log = createLogger(config.LOG_LEVEL);
if (config.usingDevelopmentSecret) log.warn('JWT_SECRET is not set: using the fixed development secret; never do this in production');

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
    void service.stop().then(() => {
      clearTimeout(force);
      process.exit(0);
    });
  });
}
