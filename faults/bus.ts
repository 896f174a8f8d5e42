// What the bus looks like after a fault: does the stream exist, does each projector's durable consumer
// exist, and what does it still hold. Not part of the verdict (documents can converge through the
// projectors' reconciliation with the bus dead), but it tells which path did the converging.
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { describe } from './util.js';

export interface BusState {
  stream: 'present' | 'missing' | 'unreachable';
  messages?: number;
  consumers: Record<string, { pending: number; ackPending: number; redelivered: number }>;
  /** Durable consumers the projectors should have and the server does not know. */
  missingConsumers: string[];
  error?: string;
}

export async function busState(url: string, stream: string, expectedConsumers: string[]): Promise<BusState> {
  const state: BusState = { stream: 'unreachable', consumers: {}, missingConsumers: [] };
  let nc;
  try {
    nc = await connect({ servers: url.split(','), timeout: 3000, maxReconnectAttempts: 0, name: 'faults bus check' });
    const jsm = await jetstreamManager(nc, { timeout: 3000 });
    try {
      state.messages = (await jsm.streams.info(stream)).state.messages;
      state.stream = 'present';
    } catch (error) {
      state.stream = 'missing';
      state.error = describe(error);
      state.missingConsumers = [...expectedConsumers];
      return state;
    }
    for await (const info of jsm.consumers.list(stream)) {
      state.consumers[info.name] = { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
    }
    state.missingConsumers = expectedConsumers.filter((name) => !(name in state.consumers));
  } catch (error) {
    state.error = describe(error);
  } finally {
    await nc?.close().catch(() => {});
  }
  return state;
}
