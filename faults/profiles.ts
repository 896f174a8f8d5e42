import type { FaultKind, FaultPlan } from './faults.js';
import { faultKinds } from './faults.js';

export interface Profile {
  name: 'ci' | 'long' | 'custom' | 'cluster';
  /** Single servers (the default), or a JetStream cluster of 3 (R3) and a Redis Cluster of 6. */
  topology?: 'single' | 'cluster';
  /** Load before the first fault, ending with a check that must pass: the baseline. */
  warmupMs: number;
  /** The faults in order (ci), or a generator drawing them until `durationMs` is spent (long). */
  schedule: (random: () => number) => Iterable<FaultPlan>;
  durationMs: number;
  /** Load between the end of one fault's checks and the next fault. */
  gapMs: [number, number];
  /** From the heal, how long the read side may take to equal the event store. */
  convergeDeadlineMs: number;
  load: { users: number; concurrency: number; rate: number; keyedShare: number; abortShare: number; invalidShare: number; openOrdersPerUser: number };
  /** Environment of the service processes beyond URLs and the secret; empty keeps the service's defaults. */
  serviceEnv: Record<string, string>;
  relays: number;
  projectors: number;
}

const load = { users: 6, concurrency: 2, rate: 25, keyedShare: 0.4, abortShare: 0.05, invalidShare: 0.03, openOrdersPerUser: 4 };

/** About 2.5 minutes: each kind of fault once (postgres twice, fast and immediate), short outages. */
export const ci: Profile = {
  name: 'ci',
  warmupMs: 8_000,
  durationMs: Infinity,
  schedule: () => [
    { kind: 'relay-kill', downMs: 500 },
    { kind: 'projector-kill', downMs: 500 },
    { kind: 'nats-kill', downMs: 0 },
    { kind: 'nats-down', downMs: 5_000 },
    { kind: 'redis-flush', downMs: 0 },
    { kind: 'redis-restart', downMs: 1_000 },
    { kind: 'postgres-restart', downMs: 4_000, mode: 'fast' },
    { kind: 'postgres-restart', downMs: 3_000, mode: 'immediate' },
    { kind: 'stray-messages', downMs: 0 },
  ],
  gapMs: [2_000, 3_000],
  convergeDeadlineMs: 45_000,
  load,
  // The service's defaults (30 s ack wait, 30 s reconciliation): a killed projector's successor must
  // catch up without waiting for either. Only the outbox poll, a fallback to NOTIFY, is shorter.
  serviceEnv: { OUTBOX_POLL_MS: '500' },
  relays: 2,
  projectors: 2,
};

const weights: Record<FaultKind, number> = {
  'relay-kill': 4,
  'projector-kill': 4,
  'workers-kill-all': 1,
  'api-kill': 1,
  'nats-kill': 2,
  'nats-down': 1,
  // Not drawn: after it nothing drains until relays and projectors restart, which would fail every
  // later check of the run for that one reason. Run it on its own: --faults nats-wipe.
  'nats-wipe': 0,
  'redis-flush': 1,
  'redis-restart': 1,
  'postgres-restart': 2,
  'stray-messages': 1,
  // Cluster faults: drawn by the cluster profile only.
  'nats-node-down': 0,
  'nats-node-isolated': 0,
  'redis-master-down': 0,
};

/**
 * `--topology cluster`: the CI profile's faults that apply to a cluster, plus one node of each cluster
 * at a time: the stream leader's server killed, the stream leader cut off from its peers (routes
 * blackholed) while clients still reach it, a Redis master killed (its replica promoted; it returns
 * empty, as a replica). About 3 minutes.
 */
export const cluster: Profile = {
  ...ci,
  name: 'cluster',
  topology: 'cluster',
  schedule: () => [
    { kind: 'relay-kill', downMs: 500 },
    { kind: 'projector-kill', downMs: 500 },
    { kind: 'nats-node-down', downMs: 5_000 },
    { kind: 'nats-node-isolated', downMs: 8_000 },
    { kind: 'redis-master-down', downMs: 5_000 },
    { kind: 'postgres-restart', downMs: 3_000, mode: 'immediate' },
    { kind: 'stray-messages', downMs: 0 },
  ],
  // A write a Redis failover lost is only repaired by the reconciliation sweep when no later event of
  // that order comes: the service's default sweep (30 s) must fit in the deadline.
  convergeDeadlineMs: 60_000,
};

/**
 * The CI profile with other faults, settings or warm-up: to reproduce one finding quickly, e.g.
 * `--faults redis-flush --env RECONCILE_WINDOW_MS=20000 --warmup-s 40`.
 */
export function custom(kinds: FaultKind[], overrides: { env?: Record<string, string>; warmupMs?: number; topology?: 'single' | 'cluster' }): Profile {
  const base = overrides.topology === 'cluster' ? cluster : ci;
  const ciPlans = new Map([...base.schedule(Math.random)].map((planned) => [planned.kind, planned]));
  return {
    ...base,
    name: 'custom',
    warmupMs: overrides.warmupMs ?? ci.warmupMs,
    schedule: (random) => kinds.map((kind) => ciPlans.get(kind) ?? plan(kind, random)),
    serviceEnv: { ...base.serviceEnv, ...overrides.env },
  };
}

function plan(kind: FaultKind, random: () => number): FaultPlan {
  switch (kind) {
    case 'nats-down':
      return { kind, downMs: 30_000 };
    case 'postgres-restart':
      return { kind, downMs: 3_000 + Math.floor(random() * 7_000), mode: random() < 0.5 ? 'fast' : 'immediate' };
    case 'redis-restart':
      return { kind, downMs: 1_000 + Math.floor(random() * 2_000) };
    case 'nats-kill':
      return { kind, downMs: 0 };
    case 'nats-wipe':
      return { kind, downMs: 1_000 };
    case 'nats-node-down':
    case 'redis-master-down':
      return { kind, downMs: 5_000 };
    case 'nats-node-isolated':
      return { kind, downMs: 8_000 };
    case 'redis-flush':
    case 'stray-messages':
      return { kind, downMs: 0 };
    default:
      return { kind, downMs: Math.floor(random() * 2_000) };
  }
}

/**
 * At least 10 minutes of faults every few seconds, in rounds: every kind once (shuffled), then six drawn
 * by weight. Rounds rather than one draw, so that each kind also strikes late in the run, when the
 * oldest orders are older than the service's time windows (RECONCILE_WINDOW_MS is 10 minutes).
 */
export function long(minutes = 12): Profile {
  return {
    name: 'long',
    warmupMs: 15_000,
    durationMs: minutes * 60_000,
    schedule: function* (random) {
      const total = Object.values(weights).reduce((a, b) => a + b, 0);
      for (;;) {
        for (const kind of faultKinds.filter((k) => weights[k] > 0).sort(() => random() - 0.5)) yield plan(kind, random);
        for (let i = 0; i < 6; i++) {
          let roll = random() * total;
          yield plan(faultKinds.find((k) => (roll -= weights[k]) < 0) ?? 'relay-kill', random);
        }
      }
    },
    gapMs: [2_000, 5_000],
    convergeDeadlineMs: 120_000,
    load,
    serviceEnv: {},
    relays: 2,
    projectors: 2,
  };
}
