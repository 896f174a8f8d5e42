import { pino, type Logger } from 'pino';

/** JSON lines in production and under test; readable lines for a developer at a terminal. */
export function createLogger(level: string, pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'production'): Logger {
  return pino({
    level,
    base: { service: 'cqrs-orders' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service' } } } : {}),
  });
}
