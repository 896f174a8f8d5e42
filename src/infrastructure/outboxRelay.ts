import type { Logger } from 'pino';
import type { EventBus, EventStore } from '../ports.js';

export interface RelayOptions {
  store: EventStore;
  bus: EventBus;
  log: Logger;
  pollMs: number;
  batch: number;
}

/**
 * Moves committed events from the outbox to the bus. Wakes on the store's notification and polls as a
 * fallback (a lost NOTIFY or a publish that failed is picked up on the next tick). Rows are marked
 * done by the store only after the bus acknowledged them.
 */
export async function startRelay(options: RelayOptions): Promise<{ stop(): Promise<void> }> {
  const { store, bus, log } = options;
  let running = true;
  let draining: Promise<void> | null = null;
  let again = false;

  const drain = (): Promise<void> => {
    if (draining) {
      again = true;
      return draining;
    }
    draining = (async () => {
      do {
        again = false;
        try {
          while (running && (await store.relayOutbox(options.batch, (event) => bus.publish(event))) > 0) {}
        } catch (error) {
          log.warn({ err: error }, 'outbox relay failed; retrying on the next tick');
        }
      } while (running && again);
    })().finally(() => {
      draining = null;
    });
    return draining;
  };

  const unwatch = await store.watchOutbox(() => void drain());
  const timer = setInterval(() => void drain(), options.pollMs);
  void drain();
  return {
    async stop() {
      running = false;
      clearInterval(timer);
      await unwatch();
      await draining;
    },
  };
}
