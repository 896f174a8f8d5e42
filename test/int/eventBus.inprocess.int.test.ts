import { InProcessBus } from '../../src/infrastructure/embedded/inProcessBus.js';
import { eventBusContract } from '../contracts/eventBus.contract.js';

eventBusContract('in-process', async () => {
  // The same ack wait as the JetStream run, so both meet the contract on the same clock.
  const bus = new InProcessBus({ ackWaitMs: 1000 });
  return { bus, cleanup: () => bus.close() };
});
