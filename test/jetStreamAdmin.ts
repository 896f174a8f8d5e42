// What tests and benchmarks do to a JetStream stream behind the bus's back: the service itself never
// empties or deletes its stream, so the bus adapter has no such members.
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

type StreamOf = { url: string; stream: string };

async function withManager(where: StreamOf, act: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<unknown>): Promise<void> {
  const nc = await connect({ servers: where.url.split(',').map((server) => server.trim()) });
  try {
    await act(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

/** Drops every message of the stream, as if no publish had reached it. */
export const purgeStream = (where: StreamOf) => withManager(where, (jsm) => jsm.streams.purge(where.stream));

/** Deletes the stream, as a NATS server back without its store has none. */
export const deleteStream = (where: StreamOf) => withManager(where, (jsm) => jsm.streams.delete(where.stream));
