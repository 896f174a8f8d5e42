import { z } from 'zod';

const roles = ['command', 'query', 'relay', 'projector'] as const;
export type Role = (typeof roles)[number];

export const developmentJwtSecret = 'development-secret-do-not-use-in-production';

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
    NATS_URL: z.string().min(1).optional(),
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
    // Seed nodes of a Redis Cluster, instead of REDIS_URL; ioredis finds the other nodes from any of them.
    REDIS_CLUSTER_URLS: z
      .string()
      .transform((value) => value.split(',').map((url) => url.trim()).filter(Boolean))
      .pipe(z.array(z.url({ protocol: /^rediss?$/ })).min(1, 'name at least one node'))
      .optional(),
    DATA_DIR: z.string().min(1).default('./.data'),
    TRUSTED_DOCUMENTS: z.string().min(1).optional(),
    ROLE: z
      .string()
      .default('all')
      .transform((value, ctx) => {
        const asked = value.split(',').map((role) => role.trim()).filter(Boolean);
        if (asked.includes('all')) return [...roles];
        const unknown = asked.filter((role) => !(roles as readonly string[]).includes(role));
        if (unknown.length || !asked.length) {
          ctx.addIssue({ code: 'custom', message: `unknown role ${unknown.join(',') || '(none)'}; use ${roles.join(', ')} or all` });
          return z.NEVER;
        }
        return asked as Role[];
      }),
    JWT_SECRET: z.string().min(16, 'JWT_SECRET must be at least 16 characters').optional(),
    JWT_ISSUER: z.string().min(1).optional(),
    JWT_AUDIENCE: z.string().min(1).optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    COMMAND_MAX_RETRIES: z.coerce.number().int().min(1).max(100).default(10),
    // Admission control of the command path (docs/security.md, "Overload"): past these, SERVICE_UNAVAILABLE at once.
    COMMAND_MAX_IN_FLIGHT: z.coerce.number().int().min(1).default(16),
    COMMAND_MAX_QUEUE: z.coerce.number().int().min(0).default(64),
    COMMAND_QUEUE_TIMEOUT_MS: z.coerce.number().int().min(1).default(500),
    // Once the queue stands (non-empty for 100 ms): newest first, and a wait past this is refused; 0 is off.
    COMMAND_QUEUE_TARGET_MS: z.coerce.number().int().min(0).default(25),
    // Past this many times its baseline (lowest window p90 of the last minute), a command p90 makes the admission hold the admitted rate down; 0 is off.
    COMMAND_LATENCY_TOLERANCE: z.coerce.number().min(0).default(6),
    // Event-loop delay past which GraphQL requests over HTTP are refused before parsing; 0 turns it off.
    SHED_EVENT_LOOP_LAG_MS: z.coerce.number().int().min(0).default(0),
    SNAPSHOT_EVERY: z.coerce.number().int().min(0).default(100),
    OUTBOX_POLL_MS: z.coerce.number().int().min(10).default(1000),
    OUTBOX_BATCH: z.coerce.number().int().min(1).max(10_000).default(200),
    OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(10),
    // /readyz of a relay answers 503 while an event older than this waits to be published.
    OUTBOX_STALL_MS: z.coerce.number().int().min(1000).default(60_000),
    NATS_STREAM: z.string().regex(/^[A-Za-z0-9_-]+$/).default('ORDERS'),
    NATS_SUBJECT_PREFIX: z.string().min(1).default('orders.events'),
    NATS_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
    NATS_ACK_WAIT_MS: z.coerce.number().int().min(100).default(30_000),
    NATS_MAX_DELIVER: z.coerce.number().int().min(1).default(10),
    NATS_DUPLICATE_WINDOW_MS: z.coerce.number().int().min(1000).default(120_000),
    REDIS_PREFIX: z.string().min(1).default('cqrs'),
    // Order documents a query process keeps in memory while Redis tracks them for it (one Redis server
    // only), about 1-2 KB each. Off by default: it cuts a read's latency at low concurrency but, measured
    // side by side, costs CPU per read once the process is saturated (docs/operations.md, the near cache).
    READ_CACHE_ENTRIES: z.coerce.number().int().min(0).max(1_000_000).default(0),
    PROJECTOR_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(32),
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000),
    RECONCILE_WINDOW_MS: z.coerce.number().int().min(1000).default(600_000),
    // Security limits (docs/security.md): what one request, operation, caller or connection may ask.
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(100_000),
    MAX_BATCH_OPERATIONS: z.coerce.number().int().min(1).max(100).default(10),
    QUERY_MAX_DEPTH: z.coerce.number().int().min(1).default(10),
    QUERY_MAX_ALIASES: z.coerce.number().int().min(0).default(15),
    QUERY_MAX_TOKENS: z.coerce.number().int().min(10).default(1000),
    QUERY_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(50),
    QUERY_MAX_COST: z.coerce.number().int().min(1).default(5000),
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
    CORS_ORIGINS: z
      .string()
      .default('')
      .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean))
      .refine((origins) => origins.every((origin) => origin === '*' || /^https?:\/\/[^/\s]+$/.test(origin)), 'a comma list of origins such as https://app.example.com, or *'),
    WS_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    WS_MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).default(20),
    WS_MAX_CONNECTIONS_PER_USER: z.coerce.number().int().min(1).default(10),
    MAX_SUBSCRIPTIONS_PER_CALLER: z.coerce.number().int().min(1).default(200),
    // A subscriber that has not taken a message for this long is dropped (its buffers freed).
    SUBSCRIPTION_STALL_MS: z.coerce.number().int().min(100).default(30_000),
  })
  .superRefine((env, ctx) => {
    if (env.REDIS_URL && env.REDIS_CLUSTER_URLS)
      ctx.addIssue({ code: 'custom', path: ['REDIS_CLUSTER_URLS'], message: 'set REDIS_URL (one server) or REDIS_CLUSTER_URLS (a cluster), not both' });
    if (env.REDIS_CLUSTER_URLS && /[{}]/.test(env.REDIS_PREFIX))
      ctx.addIssue({ code: 'custom', path: ['REDIS_PREFIX'], message: 'may not contain { or } on a Redis Cluster (they choose the hash slot)' });
    if (env.NODE_ENV === 'production' && !env.JWT_SECRET)
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'JWT_SECRET is required when NODE_ENV=production' });
  });

export type Config = z.infer<typeof schema> & {
  jwtSecret: string;
  usingDevelopmentSecret: boolean;
  /** Where the read side lives: REDIS_URL, or REDIS_CLUSTER_URLS as an array; unset: in memory. */
  redis: string | string[] | undefined;
};

export class ConfigError extends Error {}

/** Parses the environment once; every problem is named in one error. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || 'env'}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const jwtSecret = parsed.data.JWT_SECRET ?? developmentJwtSecret;
  return { ...parsed.data, jwtSecret, usingDevelopmentSecret: !parsed.data.JWT_SECRET, redis: parsed.data.REDIS_CLUSTER_URLS ?? parsed.data.REDIS_URL };
}

/** For entry points: the configuration, or the reasons it is invalid on stderr and exit code 2. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
}
