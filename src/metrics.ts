import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

// Every series the service exposes at GET /metrics, in one place so names stay consistent.
// Components record into these; nothing else creates metrics.
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const metrics = {
  commandDuration: new Histogram({
    name: 'orders_command_duration_seconds',
    help: 'Command handling time, by command and outcome (ok or an error code)',
    labelNames: ['command', 'outcome'] as const,
    buckets: seconds,
    registers: [registry],
  }),
  commandsRefused: new Counter({
    name: 'orders_commands_refused_total',
    help: 'Commands refused by admission control (SERVICE_UNAVAILABLE), by reason: queue full, waited too long, stale in a standing queue, or over the governed rate',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  commandRateLimit: new Gauge({
    name: 'orders_command_rate_limit',
    help: 'Commands per second the admission holds the command path to while their latency is past its tolerance (COMMAND_LATENCY_TOLERANCE); 0 when it holds none',
    registers: [registry],
  }),
  commandLatencyBaseline: new Gauge({
    name: 'orders_command_latency_baseline_seconds',
    help: 'The rate governor\'s baseline: the lowest 250 ms window p90 of command latency in the last minute, which COMMAND_LATENCY_TOLERANCE multiplies; 0 before the first window',
    registers: [registry],
  }),
  requestsShed: new Counter({
    name: 'orders_requests_shed_total',
    help: 'GraphQL requests over HTTP refused before parsing (SERVICE_UNAVAILABLE): the command admission refusing or saturated, or the event loop late',
    registers: [registry],
  }),
  commandRetries: new Counter({
    name: 'orders_command_retries_total',
    help: 'Commands decided again after losing a version race',
    labelNames: ['command'] as const,
    registers: [registry],
  }),
  eventsAppended: new Counter({
    name: 'orders_events_appended_total',
    help: 'Events appended to the event store, by type',
    labelNames: ['type'] as const,
    registers: [registry],
  }),
  outboxBacklog: new Gauge({
    name: 'orders_outbox_backlog',
    help: 'Outbox rows not yet published (sampled by the relay)',
    registers: [registry],
  }),
  outboxPublishDuration: new Histogram({
    name: 'orders_outbox_publish_duration_seconds',
    help: 'Time from commit to JetStream acknowledgement, per event',
    buckets: seconds,
    registers: [registry],
  }),
  outboxOldestSeconds: new Gauge({
    name: 'orders_outbox_oldest_unpublished_seconds',
    help: 'Age of the oldest outbox row not yet published nor dead-lettered (sampled by the relay); 0 when none',
    registers: [registry],
  }),
  outboxBatches: new Counter({
    name: 'orders_outbox_batches_total',
    help: 'Relay transactions, by whether they published anything (published) or found nothing to publish (empty)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  }),
  outboxDeadLettered: new Counter({
    name: 'orders_outbox_dead_lettered_total',
    help: 'Outbox rows the relay gave up on after OUTBOX_MAX_ATTEMPTS failed publishes with the bus up',
    registers: [registry],
  }),
  eventsPublished: new Counter({
    name: 'orders_events_published_total',
    help: 'Events the relay published and the bus acknowledged',
    registers: [registry],
  }),
  projectorEvents: new Counter({
    name: 'orders_projector_events_total',
    help: 'Events handled by projectors, by projection and outcome (applied, duplicate, repaired, failed)',
    labelNames: ['projection', 'outcome'] as const,
    registers: [registry],
  }),
  projectorLagEvents: new Gauge({
    name: 'orders_projector_lag_events',
    help: 'Events in the store not yet applied by a projection',
    labelNames: ['projection'] as const,
    registers: [registry],
  }),
  projectorLagSeconds: new Gauge({
    name: 'orders_projector_lag_seconds',
    help: 'Age of the oldest event a projection has not applied; 0 when caught up',
    labelNames: ['projection'] as const,
    registers: [registry],
  }),
  projectionLatency: new Histogram({
    name: 'orders_projection_latency_seconds',
    help: 'Commit to read-document write (freshness lag), by projection',
    labelNames: ['projection'] as const,
    buckets: seconds,
    registers: [registry],
  }),
  deadLetters: new Gauge({
    name: 'orders_dead_letters',
    help: 'Unresolved dead letters, by consumer',
    labelNames: ['consumer'] as const,
    registers: [registry],
  }),
  activeSubscriptions: new Gauge({
    name: 'orders_active_subscriptions',
    help: 'Open GraphQL subscriptions, by field',
    labelNames: ['field'] as const,
    registers: [registry],
  }),
  droppedSubscribers: new Counter({
    name: 'orders_dropped_subscribers_total',
    help: 'Subscriptions ended because the client stopped reading for SUBSCRIPTION_STALL_MS, by field',
    labelNames: ['field'] as const,
    registers: [registry],
  }),
  readWaits: new Counter({
    name: 'orders_read_waits_total',
    help: 'Reads that waited for minVersion, by outcome (reached or stale)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  }),
  readCache: new Counter({
    name: 'orders_read_cache_total',
    help: 'Document reads of queries by where they were answered: hit (this process\'s near cache), miss (Redis; kept if safe), untracked (Redis; tracking not set up yet)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  }),
  rateLimited: new Counter({
    name: 'orders_rate_limited_total',
    help: 'Requests refused with RATE_LIMITED',
    registers: [registry],
  }),
};
