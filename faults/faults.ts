// The faults: each one breaks something under load, waits as the profile says, and heals it. Healed
// means the broken piece is back (a process restarted and logging 'service started', a server accepting
// connections again); convergence is measured from that moment.
import { clusters, type Infra, single } from './infra.js';
import type { ServiceProcess, Topology } from './services.js';
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { keySlot } from '../test/clusters.js';
import { sleep } from './util.js';

export const faultKinds = [
  'relay-kill',
  'projector-kill',
  'workers-kill-all',
  'api-kill',
  'nats-kill',
  'nats-down',
  'nats-wipe',
  'redis-flush',
  'redis-restart',
  'postgres-restart',
  'stray-messages',
  // --topology cluster: one node of a cluster at a time.
  'nats-node-down',
  'nats-node-isolated',
  'redis-master-down',
] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface FaultPlan {
  kind: FaultKind;
  /** How long the broken piece stays broken (servers down, killed processes dead before their restart). */
  downMs: number;
  /** postgres-restart: fast (SIGINT, clients disconnected) or immediate (SIGQUIT, crash recovery on start). */
  mode?: 'fast' | 'immediate';
}

export interface FaultContext {
  infra: Infra;
  topology: Topology;
  random: () => number;
  log: (line: string) => void;
  nats: { stream: string; subjectPrefix: string };
  /** An order of the load, for faults aimed at one order's subject. */
  someOrderId: () => string | null;
}

export interface Injected {
  detail: string;
  brokenAt: number;
  healedAt: number;
}

// Replicas are killed in turn, so that two kills of a kind in a row always hit both replicas.
const turns = new Map<string, number>();
const inTurn = <T>(kind: string, list: T[]): T => {
  const turn = turns.get(kind) ?? 0;
  turns.set(kind, turn + 1);
  return list[turn % list.length]!;
};

async function killAndRestart(targets: ServiceProcess[], downMs: number): Promise<void> {
  await Promise.all(targets.map((target) => target.kill('SIGKILL')));
  await sleep(downMs);
  // start() retries a refused start (a dependency down) until it succeeds.
  await Promise.all(targets.map((target) => target.start()));
}

export async function inject(plan: FaultPlan, ctx: FaultContext): Promise<Injected> {
  const { infra, topology } = ctx;
  const brokenAt = Date.now();
  let detail: string;
  switch (plan.kind) {
    case 'relay-kill': {
      const target = inTurn(plan.kind, topology.relays);
      detail = `SIGKILL ${target.name} (pid ${target.pid}), restarted after ${plan.downMs} ms`;
      await killAndRestart([target], plan.downMs);
      break;
    }
    case 'projector-kill': {
      const target = inTurn(plan.kind, topology.projectors);
      detail = `SIGKILL ${target.name} (pid ${target.pid}), restarted after ${plan.downMs} ms`;
      await killAndRestart([target], plan.downMs);
      break;
    }
    case 'workers-kill-all': {
      const targets = [...topology.relays, ...topology.projectors];
      detail = `SIGKILL every relay and projector (${targets.map((t) => t.name).join(', ')}), restarted after ${plan.downMs} ms`;
      await killAndRestart(targets, plan.downMs);
      break;
    }
    case 'api-kill': {
      // Beyond the relay and projector kills: a command process dying mid-request is what idempotency
      // keys are for (the commit may have happened, the answer never arrives).
      detail = `SIGKILL ${topology.api.name} (pid ${topology.api.pid}), restarted after ${plan.downMs} ms`;
      await killAndRestart([topology.api], plan.downMs);
      break;
    }
    case 'nats-kill': {
      const { nats } = single(infra);
      detail = `SIGKILL nats-server (pid ${nats.process.pid}), restarted at once`;
      await nats.stop('SIGKILL');
      await nats.start();
      break;
    }
    case 'nats-down': {
      const { nats } = single(infra);
      detail = `SIGKILL nats-server (pid ${nats.process.pid}), down for ${plan.downMs} ms`;
      await nats.stop('SIGKILL');
      await sleep(plan.downMs);
      await nats.start();
      break;
    }
    case 'nats-node-down': {
      // The node leading the stream: its loss costs an election, where any other node's would cost nothing.
      const { nats } = clusters(infra);
      const leader = await nats.streamLeader(ctx.nats.stream);
      detail = `SIGKILL ${leader.name} (leader of ${ctx.nats.stream}, pid ${leader.child?.pid}), down for ${plan.downMs} ms`;
      await leader.kill();
      await sleep(plan.downMs);
      await nats.restart(leader);
      break;
    }
    case 'nats-node-isolated': {
      // The stream leader again, cut off from the other two (its routes blackholed both ways) while its
      // clients can still reach it: the majority elects a new leader; the old one must stop acking.
      const { nats } = clusters(infra);
      const leader = await nats.streamLeader(ctx.nats.stream);
      const index = nats.nodes.indexOf(leader);
      const cut = [...infra.routeProxies].filter(([pair]) => pair.split('>').map(Number).includes(index)).map(([, proxy]) => proxy);
      detail = `routes of ${leader.name} (leader of ${ctx.nats.stream}) blackholed both ways for ${plan.downMs} ms`;
      for (const proxy of cut) proxy.blackhole();
      await sleep(plan.downMs);
      for (const proxy of cut) proxy.heal();
      break;
    }
    case 'redis-master-down': {
      // The master of the collection slot every new order's index entry goes to; its replica takes over.
      const { redis } = clusters(infra);
      const master = await redis.masterOf(keySlot('{userOrder}'));
      detail = `SIGKILL ${master.name} (master of the {userOrder} slot, pid ${master.child?.pid}), back after ${plan.downMs} ms as a replica`;
      await master.kill();
      await sleep(plan.downMs);
      await redis.restart(master);
      break;
    }
    case 'nats-wipe':
      // Beyond the brief: a NATS that comes back without its JetStream store (a new node, a lost
      // volume). The architecture says the read side converges even when the bus loses messages.
      {
        const { nats } = single(infra);
        detail = `SIGKILL nats-server (pid ${nats.process.pid}), JetStream store deleted, restarted after ${plan.downMs} ms`;
        await nats.stop('SIGKILL');
        await nats.wipeStore();
        await sleep(plan.downMs);
        await nats.start();
      }
      break;
    case 'redis-flush':
      detail = 'FLUSHALL';
      await single(infra).redis.flushAll();
      break;
    case 'redis-restart': {
      const { redis } = single(infra);
      detail = `SIGKILL redis-server (no persistence: it comes back empty), down for ${plan.downMs} ms`;
      await redis.stop('SIGKILL');
      await sleep(plan.downMs);
      await redis.start();
      break;
    }
    case 'stray-messages': {
      // Anyone may publish on the subjects: a non-JSON payload, an event of a type nobody knows at the
      // order's next versions, and one far ahead of the store. None may change a document; the check
      // after this fault compares every document with the event store.
      const orderId = ctx.someOrderId();
      if (!orderId) throw new Error('stray-messages: the load has no order yet');
      const sent = await publishStrays(infra.natsUrl, `${ctx.nats.subjectPrefix}.${orderId}`, orderId);
      detail = `${sent} stray messages on the subject of order ${orderId} (not JSON, unknown type, far-ahead version)`;
      break;
    }
    case 'postgres-restart': {
      const mode = plan.mode ?? 'fast';
      detail = `postgres ${mode} shutdown (${mode === 'fast' ? 'SIGINT' : 'SIGQUIT, crash recovery on start'}), down for ${plan.downMs} ms`;
      await infra.postgres.stop(mode);
      await sleep(plan.downMs);
      await infra.postgres.start();
      break;
    }
  }
  return { detail, brokenAt, healedAt: Date.now() };
}

async function publishStrays(url: string, subject: string, orderId: string): Promise<number> {
  const nc = await connect({ servers: url.split(','), timeout: 3000 });
  try {
    const js = jetstream(nc);
    const envelope = (version: number, type: string) => {
      const eventId = randomUUID();
      const event = { position: '9000000000', streamId: orderId, version, type, schemaVersion: 1, data: {}, committedAt: new Date().toISOString(), metadata: { eventId, commandId: eventId, correlationId: eventId, causationId: eventId, userId: 'stranger' } };
      return { payload: JSON.stringify(event), eventId };
    };
    const strays = [{ payload: 'not json {', eventId: undefined }, ...[1, 2, 3, 4, 5, 6, 7].map((version) => envelope(version, 'OrderTeleported')), envelope(100_000, 'OrderConfirmed')];
    for (const { payload, eventId } of strays) await js.publish(subject, payload, eventId ? { msgID: eventId } : {});
    return strays.length;
  } finally {
    await nc.close();
  }
}
