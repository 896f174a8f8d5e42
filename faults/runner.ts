// One fault run: private servers, the service's roles as processes, a recorded load, faults one after
// another with the checks after each, a report. `run.ts` is the command line; tests call `runFaults`.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { applyMigrations } from '../src/infrastructure/postgres/migrate.js';
import { seededRandom } from '../test/random.js';
import { consumerOf } from '../src/projectors/deadLetters.js';
import { busState } from './bus.js';
import { Checker, loadReadModels } from './checks.js';
import { type FaultPlan, inject } from './faults.js';
import { type Infra, startClusterInfra, startInfra } from './infra.js';
import { Load } from './load.js';
import type { Profile } from './profiles.js';
import { type CheckRecord, commandSummary, convergenceStats, type FaultRecord, memorySummary, printReport, type Report, summarizeAttempts } from './report.js';
import { createTopology, repoRoot, type Topology } from './services.js';
import { describe, sleep } from './util.js';

export const resultsDir = path.join(repoRoot, 'faults', 'results');
const jwtSecret = 'fault-injection-secret-0123456789';
const memoryEveryMs = 5_000;

export interface RunOptions {
  profile: Profile;
  seed?: number;
  /** Where the JSON report goes; logs go to a folder of the same name. */
  outDir?: string;
  log?: (line: string) => void;
  /** Where the printed report goes (console.log by default). */
  print?: (line: string) => void;
  /** Called with the servers still up after the last check, e.g. for a test's own assertions. */
  beforeTeardown?: (ctx: { infra: Infra; checker: Checker; redisPrefix: string }) => Promise<void>;
}

export async function runFaults(options: RunOptions): Promise<{ report: Report; file: string }> {
  const { profile } = options;
  const log = options.log ?? ((line: string) => console.log(`[faults ${new Date().toISOString().slice(11, 23)}] ${line}`));
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = seededRandom(seed);
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const outDir = options.outDir ?? resultsDir;
  const logDir = path.join(outDir, stamp);
  await mkdir(logDir, { recursive: true });
  const notes: string[] = [];
  const failures: string[] = [];

  log(`profile ${profile.name}, seed ${seed}; logs in ${path.relative(repoRoot, logDir)}`);
  const infra = profile.topology === 'cluster' ? await startClusterInfra(logDir) : await startInfra(logDir);
  let topology: Topology | null = null;
  let checker: Checker | null = null;
  let load: Load | null = null;
  let memoryTimer: NodeJS.Timeout | undefined;
  const redisPrefix = 'faults';
  const serviceEnv = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    JWT_SECRET: jwtSecret,
    DATABASE_URL: infra.postgres.url,
    NATS_URL: infra.natsUrl,
    ...(typeof infra.redisTarget === 'string' ? { REDIS_URL: infra.redisTarget } : { REDIS_CLUSTER_URLS: infra.redisTarget.join(','), NATS_REPLICAS: '3' }),
    NATS_STREAM: 'ORDERS_FAULTS',
    REDIS_PREFIX: redisPrefix,
    // The load is several users at a few dozen commands a second: the per-user limit is not under test.
    RATE_LIMIT_PER_MINUTE: '1000000',
    ...profile.serviceEnv,
  };
  const faults: FaultRecord[] = [];
  const memory: Report['memory']['samples'] = [];
  let baseline: CheckRecord | null = null;
  let final: CheckRecord | null = null;
  let integrity = null as Awaited<ReturnType<Checker['integrity']>> | null;
  let deadLetters: Awaited<ReturnType<Checker['deadLetters']>> = [];

  try {
    log(`postgres ${infra.postgres.url}, nats ${infra.natsUrl}, redis ${String(infra.redisTarget)}`);
    await applyMigrations({ url: infra.postgres.url });
    const models = loadReadModels();
    notes.push(...models.notes);
    checker = new Checker(infra.postgres.url, { url: infra.redisTarget, prefix: redisPrefix }, models);

    topology = createTopology({ env: serviceEnv, logDir, relays: profile.relays, projectors: profile.projectors });
    const started = Date.now();
    await withTimeout(Promise.all(topology.all.map((p) => p.start())), 180_000, 'the service processes did not all start within 180 s');
    log(`${topology.all.length} service processes started in ${Date.now() - started} ms: ${topology.all.map((p) => `${p.name}(${p.roles})`).join(', ')}`);

    const t0 = Date.now();
    const processes = topology.all;
    memoryTimer = setInterval(() => {
      void Promise.all(processes.map(async (p) => [p.name, await p.rss(), await p.fds()] as const)).then((values) =>
        memory.push({
          t: Math.round((Date.now() - t0) / 1000),
          rssMb: Object.fromEntries(values.map(([name, rss]) => [name, rss === null ? null : Math.round(rss / 1048576)])),
          fds: Object.fromEntries(values.map(([name, , fds]) => [name, fds])),
        }),
      );
    }, memoryEveryMs);

    const api = topology.api;
    // While the API restarts it has no URL: aim at a port nothing listens on, so attempts fail as a network error.
    load = new Load({ url: () => api.url ?? 'http://127.0.0.1:1', jwtSecret, ...profile.load, requestTimeoutMs: 15_000, retryBudgetMs: 30_000, random });
    await load.start();
    await sleep(profile.warmupMs);

    const check = async (label: string, from: number): Promise<CheckRecord> => {
      await load!.pause();
      const deadline = from + profile.convergeDeadlineMs;
      const convergence = await checker!.converge(deadline);
      const convergedAt = Date.now();
      const found = await checker!.integrity(load!.ledger);
      const letters = await checker!.deadLetters();
      const bus = await busState(infra.natsUrl, serviceEnv.NATS_STREAM, models.projections.map((projection) => consumerOf(projection.name)));
      const record: CheckRecord = {
        convergeMs: convergence.converged ? convergedAt - from : null,
        convergence,
        integrity: {
          acknowledged: found.acknowledged,
          unknown: found.unknown,
          foreignEvents: found.foreignEvents,
          lost: found.lost.length,
          duplicated: found.duplicated.length,
          halfWritten: found.halfWritten.length,
          refusedButApplied: found.refusedButApplied.length,
          acceptedInvalid: found.acceptedInvalid.length,
          quantityMismatches: found.quantityMismatches.length,
        },
        deadLetters: letters.length,
        bus,
      };
      integrity = found;
      deadLetters = letters;
      const c = convergence;
      log(
        `${label}: ${c.converged ? `converged in ${record.convergeMs} ms` : `NOT converged (outbox ${c.outboxPending}${c.outboxStuck?.[0] ? ` pending, last relay error: ${c.outboxStuck[0].lastError ?? 'none'} after ${c.outboxStuck[0].maxAttempts} attempts` : ''}, ${c.mismatches.total} documents off ${JSON.stringify(c.mismatches.byKind)}${c.stats.equal === false ? ', statistics differ' : ''}${c.lastError ? `, last error ${c.lastError}` : ''})`}` +
          `; ${c.streams} orders, ${c.events} events; acked ${found.acknowledged}, lost ${found.lost.length}, duplicated ${found.duplicated.length}, half-written ${found.halfWritten.length}, dead letters ${letters.length}` +
          (bus.stream !== 'present' ? `; bus: stream ${bus.stream}` : bus.missingConsumers.length ? `; bus: consumers missing: ${bus.missingConsumers.join(', ')}` : ''),
      );
      return record;
    };

    const pausedAt = Date.now();
    await load.pause();
    baseline = await check('baseline', pausedAt);
    if (!baseline.convergence.converged) throw new Error('the baseline (no fault yet) did not converge: the service does not work even without faults');
    if (baseline.convergence.stats.note) notes.push(baseline.convergence.stats.note);
    load.resume();

    const deadline = Date.now() + profile.durationMs;
    let n = 0;
    for (const plan of profile.schedule(random)) {
      if (Date.now() > deadline) break;
      await sleep(profile.gapMs[0] + random() * (profile.gapMs[1] - profile.gapMs[0]));
      faults.push(await runFault(`F${++n}`, plan));
    }

    async function runFault(id: string, plan: FaultPlan): Promise<FaultRecord> {
      log(`${id} ${plan.kind}${plan.mode ? ` (${plan.mode})` : ''}: injecting`);
      load!.ledger.fault = id;
      const readiness = watchReadiness(topology!);
      const injected = await inject(plan, { infra, topology: topology!, random, log, nats: { stream: serviceEnv.NATS_STREAM, subjectPrefix: 'orders.events' }, someOrderId: () => load!.someOrderId() });
      load!.ledger.fault = null;
      readiness.stop();
      log(`${id} ${injected.detail}; healed after ${injected.healedAt - injected.brokenAt} ms`);
      const checkRecord = await check(id, injected.healedAt);
      load!.resume();
      return {
        id,
        kind: plan.kind,
        detail: injected.detail,
        at: new Date(injected.brokenAt).toISOString(),
        faultMs: injected.healedAt - injected.brokenAt,
        attempts: summarizeAttempts(load!.ledger.intents, id, injected.healedAt),
        readiness: readiness.seen(),
        check: checkRecord,
      };
    }

    log('load stops; final check');
    await load.stop();
    // A request the client gave up on may still be running in the service: let it end first.
    await sleep(3_000);
    final = await check('final', Date.now());
    if (options.beforeTeardown) await options.beforeTeardown({ infra, checker, redisPrefix });
  } catch (error) {
    failures.push(`the run stopped early: ${describe(error)}`);
    log(`run stopped early: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    clearInterval(memoryTimer);
    await load?.stop().catch(() => {});
    if (topology) await Promise.all(topology.all.map((p) => p.stop()));
    await checker?.close();
    await infra.stop();
  }

  // The verdict.
  const lost = integrity?.lost.length ?? 0;
  const duplicated = integrity?.duplicated.length ?? 0;
  if (lost) failures.push(`${lost} acknowledged commands lost`);
  if (duplicated) failures.push(`${duplicated} effects happened twice`);
  if (integrity?.halfWritten.length) failures.push(`${integrity.halfWritten.length} half-written commands`);
  if (integrity?.refusedButApplied.length) failures.push(`${integrity.refusedButApplied.length} commands refused but applied`);
  if (integrity?.acceptedInvalid.length) failures.push(`${integrity.acceptedInvalid.length} commands against the lifecycle accepted`);
  if (integrity?.quantityMismatches.length) failures.push(`${integrity.quantityMismatches.length} item quantities differ from the adds that took effect`);
  // Not vacuous: a run that acknowledged nothing, compared nothing, or found events nobody sent proves nothing.
  if (!integrity || integrity.acknowledged === 0) failures.push('no command was acknowledged: the run proves nothing');
  if (integrity?.foreignEvents) failures.push(`${integrity.foreignEvents} events of unknown origin in the event store (no command of the load caused them)`);
  for (const [label, record] of [['baseline', baseline], ...faults.map((f) => [`${f.id} ${f.kind}`, f.check] as const), ['final', final]] as const)
    if (record && (record.convergence.streams === 0 || record.convergence.events === 0)) failures.push(`the check after ${label} compared nothing (no orders in the event store)`);
  // A dependency that does not answer is SERVICE_UNAVAILABLE, never a masked internal error.
  const internal = faults.flatMap((f) => Object.entries(f.attempts.failures).filter(([what]) => what.includes('INTERNAL_SERVER_ERROR')).map(([what, n]) => `${f.id} ${f.kind}: ${n} × ${what}`));
  if (internal.length) failures.push(`commands answered INTERNAL_SERVER_ERROR during faults: ${internal.slice(0, 5).join('; ')}`);
  const timeouts = faults.filter((f) => !f.check.convergence.converged);
  if (timeouts.length) failures.push(`no convergence within ${profile.convergeDeadlineMs / 1000} s after ${timeouts.map((f) => `${f.id} ${f.kind}`).join(', ')}`);
  if (final && !final.convergence.converged) failures.push('no convergence at the end');
  const exits = topology?.all.flatMap((p) => p.unexpectedExits) ?? [];
  if (exits.length) notes.push(`${exits.length} service processes exited without being killed (restarted by the runner); see processEvents`);

  const finishedAt = new Date();
  const byKind: Record<string, number> = {};
  for (const fault of faults) byKind[fault.kind] = (byKind[fault.kind] ?? 0) + 1;
  const report: Report = {
    profile: profile.name,
    seed,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationS: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
    ...gitFacts(),
    infra: { postgres: infra.postgres.url, nats: infra.natsUrl, redis: String(infra.redisTarget), logs: path.relative(repoRoot, logDir) },
    serviceEnv: Object.fromEntries(Object.entries(serviceEnv).filter(([key]) => !/SECRET|_URL$/.test(key))),
    processes: topology?.all.map((p) => ({ name: p.name, roles: p.roles })) ?? [],
    verdict: { ok: failures.length === 0, failures },
    notes,
    baseline,
    faults: { injected: faults.length, byKind, list: faults },
    convergence: convergenceStats(faults),
    commands: load ? commandSummary(load.ledger) : commandSummary({ intents: [], fault: null, attempts: [] } as never),
    final,
    integrity,
    lost,
    duplicated,
    deadLetters,
    memory: { everyMs: memoryEveryMs, samples: memory, byProcess: topology ? memorySummary(memory, topology.all) : {} },
    processEvents: {
      starts: Object.fromEntries(topology?.all.map((p) => [p.name, p.starts]) ?? []),
      unexpectedExits: exits,
      startFailures: topology?.all.flatMap((p) => p.startFailures) ?? [],
    },
    logs: Object.fromEntries(topology?.all.map((p) => [p.name, p.logSummary().slice(0, 15)]) ?? []),
  };
  const file = path.join(outDir, `${stamp}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  printReport(report, options.print);
  log(`report written to ${path.relative(repoRoot, file)}`);
  return { report, file };
}

/** Polls every process's /readyz while a fault lasts; keeps each distinct answer. */
function watchReadiness(topology: Topology) {
  const seen = new Set<string>();
  let stopped = false;
  void (async () => {
    while (!stopped) {
      await Promise.all(
        topology.all.map(async (p) => {
          if (!p.url) return;
          const answer = await fetch(`${p.url}/readyz`, { signal: AbortSignal.timeout(2500) })
            .then(async (response) => `${response.status} ${(await response.text()).slice(0, 200)}`)
            .catch((error: unknown) => `no answer (${describe(error)})`);
          if (!answer.startsWith('200')) seen.add(`${p.name}: ${answer}`);
        }),
      );
      await sleep(500);
    }
  })();
  return {
    stop: () => void (stopped = true),
    seen: () => [...seen],
  };
}

function gitFacts(): { commit: string; dirtyFiles: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src', 'prisma'], { cwd: repoRoot, encoding: 'utf8' });
    return { commit, dirtyFiles: status.split('\n').filter(Boolean).map((line) => line.slice(3)) };
  } catch {
    return { commit: 'unknown', dirtyFiles: [] };
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
