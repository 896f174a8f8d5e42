import type { BusState } from './bus.js';
import type { ConvergenceResult, DeadLetterRow, IntegrityResult } from './checks.js';
import type { FaultKind } from './faults.js';
import type { Intent, Ledger } from './load.js';
import type { ExitRecord, ServiceProcess } from './services.js';
import { percentile, seconds } from './util.js';

export interface CheckRecord {
  /** ms from the heal (or from the pause, for the baseline and the end) until the read side equalled the store. */
  convergeMs: number | null;
  convergence: ConvergenceResult;
  integrity: Pick<IntegrityResult, 'acknowledged' | 'unknown' | 'foreignEvents'> & Record<'lost' | 'duplicated' | 'halfWritten' | 'refusedButApplied' | 'acceptedInvalid' | 'quantityMismatches', number>;
  deadLetters: number;
  /** The stream and the projectors' consumers when the check ended. */
  bus: BusState;
}

export interface FaultRecord {
  id: string;
  kind: FaultKind;
  detail: string;
  at: string;
  /** From breaking it to healed. */
  faultMs: number;
  attempts: AttemptSummary;
  /** Distinct /readyz answers of the service processes while broken. */
  readiness: string[];
  check: CheckRecord;
}

export interface AttemptSummary {
  sent: number;
  acked: number;
  /** Refusals of commands sent against the lifecycle on purpose: the right answer. */
  refusedAsExpected: number;
  /** Other refusals with a documented code (e.g. INVALID_STATE after an answer that never arrived). */
  rejected: number;
  error: number;
  network: number;
  /** Network errors the client caused on purpose (a flaky network), retried with their key. */
  clientAborts: number;
  maxMs: number;
  /** "HTTP status CODE: message" → count, for every answer that was neither an ack nor an expected refusal. */
  failures: Record<string, number>;
  /** From the heal to the end of the first acknowledged attempt, when one ended after it. */
  firstAckAfterHealMs: number | null;
  /** Commands whose attempts failed during the fault and that a retry with their key got acknowledged after the heal. */
  retriesAckedAfterHeal: number;
}

export interface Report {
  profile: string;
  seed: number;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  commit: string;
  /** Service files changed in the work tree when the run started: the run tested those too. */
  dirtyFiles: string[];
  infra: { postgres: string; nats: string; redis: string; logs: string };
  serviceEnv: Record<string, string>;
  processes: { name: string; roles: string }[];
  verdict: { ok: boolean; failures: string[] };
  notes: string[];
  baseline: CheckRecord | null;
  faults: { injected: number; byKind: Record<string, number>; list: FaultRecord[] };
  convergence: { byKind: Record<string, { n: number; p50Ms: number | null; maxMs: number | null; timeouts: number }>; all: { n: number; p50Ms: number | null; maxMs: number | null; timeouts: number } };
  commands: {
    intents: number;
    acknowledged: number;
    rejectedAsExpected: number;
    rejectedUnexpectedly: Record<string, number>;
    unknown: number;
    keyed: number;
    retriedAttempts: number;
    clientAborts: number;
    byOp: Record<string, { intents: number; acked: number }>;
  };
  final: CheckRecord | null;
  integrity: IntegrityResult | null;
  lost: number;
  duplicated: number;
  deadLetters: DeadLetterRow[];
  memory: {
    everyMs: number;
    samples: { t: number; rssMb: Record<string, number | null>; fds?: Record<string, number | null> }[];
    byProcess: Record<string, { firstMb: number | null; maxMb: number | null; lastMb: number | null; firstFds?: number | null; maxFds?: number | null; lastFds?: number | null }>;
  };
  processEvents: { starts: Record<string, number>; unexpectedExits: ExitRecord[]; startFailures: ExitRecord[] };
  logs: Record<string, { level: string; count: number; text: string; first: string; last: string }[]>;
}

export function summarizeAttempts(intents: Intent[], during: string, healedAt: number): AttemptSummary {
  const summary: AttemptSummary = { sent: 0, acked: 0, refusedAsExpected: 0, rejected: 0, error: 0, network: 0, clientAborts: 0, maxMs: 0, failures: {}, firstAckAfterHealMs: null, retriesAckedAfterHeal: 0 };
  for (const intent of intents) {
    let hitByFault = false;
    for (const attempt of intent.attempts) {
      const end = attempt.sentAt + attempt.ms;
      if (attempt.outcome === 'acked' && end >= healedAt) {
        const after = end - healedAt;
        summary.firstAckAfterHealMs = summary.firstAckAfterHealMs === null ? after : Math.min(summary.firstAckAfterHealMs, after);
        if (hitByFault) summary.retriesAckedAfterHeal++;
      }
      if (attempt.fault !== during) continue;
      summary.sent++;
      summary.maxMs = Math.max(summary.maxMs, attempt.ms);
      if (attempt.aborted) summary.clientAborts++;
      else if (attempt.outcome === 'rejected' && intent.invalid) summary.refusedAsExpected++;
      else summary[attempt.outcome]++;
      if (attempt.outcome === 'acked' || attempt.aborted || (attempt.outcome === 'rejected' && intent.invalid)) continue;
      hitByFault = true;
      const key = `${attempt.http ? `HTTP ${attempt.http} ` : ''}${attempt.code}: ${(attempt.message ?? '').slice(0, 140)}`;
      summary.failures[key] = (summary.failures[key] ?? 0) + 1;
    }
  }
  return summary;
}

export function commandSummary(ledger: Ledger): Report['commands'] {
  const byOp: Record<string, { intents: number; acked: number }> = {};
  const unexpected: Record<string, number> = {};
  let retried = 0;
  let aborts = 0;
  for (const intent of ledger.intents) {
    const op = (byOp[intent.op] ??= { intents: 0, acked: 0 });
    op.intents++;
    if (intent.status === 'acked') op.acked++;
    if (intent.status === 'rejected' && !intent.invalid) {
      const last = intent.attempts.at(-1)!;
      const key = `${intent.op} ${last.code}: ${(last.message ?? '').slice(0, 100)}`;
      unexpected[key] = (unexpected[key] ?? 0) + 1;
    }
    retried += Math.max(0, intent.attempts.length - 1);
    aborts += intent.attempts.filter((attempt) => attempt.aborted).length;
  }
  return {
    intents: ledger.intents.length,
    acknowledged: ledger.intents.filter((intent) => intent.status === 'acked').length,
    rejectedAsExpected: ledger.intents.filter((intent) => intent.status === 'rejected' && intent.invalid).length,
    rejectedUnexpectedly: unexpected,
    unknown: ledger.intents.filter((intent) => intent.status === 'unknown').length,
    keyed: ledger.intents.filter((intent) => intent.key).length,
    retriedAttempts: retried,
    clientAborts: aborts,
    byOp,
  };
}

export function convergenceStats(faults: FaultRecord[]): Report['convergence'] {
  const stats = (list: FaultRecord[]) => {
    const times = list.filter((f) => f.check.convergence.converged && f.check.convergeMs !== null).map((f) => f.check.convergeMs!);
    return { n: list.length, p50Ms: percentile(times, 50), maxMs: times.length ? Math.max(...times) : null, timeouts: list.filter((f) => !f.check.convergence.converged).length };
  };
  const byKind: Report['convergence']['byKind'] = {};
  for (const kind of new Set(faults.map((f) => f.kind))) byKind[kind] = stats(faults.filter((f) => f.kind === kind));
  return { byKind, all: stats(faults) };
}

export function memorySummary(samples: Report['memory']['samples'], processes: ServiceProcess[]): Report['memory']['byProcess'] {
  const byProcess: Report['memory']['byProcess'] = {};
  for (const { name } of processes) {
    const values = samples.map((sample) => sample.rssMb[name]).filter((value): value is number => typeof value === 'number');
    const fds = samples.map((sample) => sample.fds?.[name]).filter((value): value is number => typeof value === 'number');
    byProcess[name] = {
      firstMb: values[0] ?? null,
      maxMb: values.length ? Math.max(...values) : null,
      lastMb: values.at(-1) ?? null,
      firstFds: fds[0] ?? null,
      maxFds: fds.length ? Math.max(...fds) : null,
      lastFds: fds.at(-1) ?? null,
    };
  }
  return byProcess;
}

const ms = (value: number | null | undefined) => (value === null || value === undefined ? '-' : `${seconds(value)} s`);

/** The report as a reader wants it at a terminal. */
export function printReport(report: Report, out: (line: string) => void = console.log): void {
  out('');
  out(`== fault injection (${report.profile}) ${report.verdict.ok ? 'PASSED' : 'FAILED'} in ${report.durationS} s, seed ${report.seed}, commit ${report.commit}`);
  for (const failure of report.verdict.failures) out(`   ✗ ${failure}`);
  for (const note of report.notes) out(`   note: ${note}`);
  out('');
  out(`faults injected: ${report.faults.injected} (${Object.entries(report.faults.byKind).map(([k, n]) => `${k} ${n}`).join(', ')})`);
  out('');
  out('  id   kind               fault    converge  sent  acked  failed  result');
  out('  (fault: from breaking to healed; converge: from the heal; failed: neither acknowledged nor refused as expected, client aborts apart)');
  for (const fault of report.faults.list) {
    const c = fault.check;
    const problems = [
      !c.convergence.converged && `NOT CONVERGED (${c.convergence.outboxPending > 0 ? `outbox ${c.convergence.outboxPending} pending${c.convergence.outboxStuck?.[0] ? ` (${c.convergence.outboxStuck[0].maxAttempts} attempts, last error: ${c.convergence.outboxStuck[0].lastError ?? 'none'})` : ''}; ` : ''}${c.convergence.mismatches.total} documents off: ${JSON.stringify(c.convergence.mismatches.byKind)}${c.convergence.stats.checked && c.convergence.stats.equal === false ? `; statistics ${JSON.stringify(c.convergence.stats.got)} instead of ${JSON.stringify(c.convergence.stats.want)}` : ''})`,
      c.integrity.lost && `${c.integrity.lost} lost`,
      c.integrity.duplicated && `${c.integrity.duplicated} duplicated`,
      c.integrity.halfWritten && `${c.integrity.halfWritten} half-written`,
      c.deadLetters && `${c.deadLetters} dead letters`,
      c.bus.stream !== 'present' && `bus: stream ${c.bus.stream}`,
      c.bus.stream === 'present' && c.bus.missingConsumers.length > 0 && `bus: consumers missing (${c.bus.missingConsumers.join(', ')})`,
    ].filter(Boolean);
    out(
      `  ${fault.id.padEnd(4)} ${fault.kind.padEnd(18)} ${ms(fault.faultMs).padStart(7)} ${ms(c.convergeMs).padStart(9)} ${String(fault.attempts.sent).padStart(5)} ${String(fault.attempts.acked).padStart(6)} ${String(fault.attempts.rejected + fault.attempts.error + fault.attempts.network).padStart(7)}  ${problems.length ? problems.join(', ') : 'ok'}`,
    );
  }
  out('');
  out('time to converge after a fault (from the heal):');
  for (const [kind, s] of Object.entries(report.convergence.byKind)) out(`  ${kind.padEnd(18)} n=${s.n}  p50 ${ms(s.p50Ms)}  max ${ms(s.maxMs)}${s.timeouts ? `  TIMEOUTS ${s.timeouts}` : ''}`);
  out(`  ${'all'.padEnd(18)} n=${report.convergence.all.n}  p50 ${ms(report.convergence.all.p50Ms)}  max ${ms(report.convergence.all.maxMs)}${report.convergence.all.timeouts ? `  TIMEOUTS ${report.convergence.all.timeouts}` : ''}`);
  out('');
  const c = report.commands;
  out(`commands: ${c.intents} sent (${c.keyed} with an idempotency key), ${c.acknowledged} acknowledged, ${c.rejectedAsExpected} refused as expected, ${c.unknown} without an answer; ${c.retriedAttempts} retries, ${c.clientAborts} client aborts`);
  if (report.integrity) {
    const i = report.integrity;
    out(`          lost ${i.lost.length}, duplicated ${i.duplicated.length}, half-written ${i.halfWritten.length}, refused but applied ${i.refusedButApplied.length}, invalid but accepted ${i.acceptedInvalid.length}, quantity mismatches ${i.quantityMismatches.length}`);
    out(`          without an answer: ${i.unknown.applied} took effect, ${i.unknown.notApplied} did not`);
  }
  for (const [what, n] of Object.entries(c.rejectedUnexpectedly)) out(`          refused unexpectedly: ${n} × ${what}`);
  const pgFaults = report.faults.list.filter((f) => f.kind === 'postgres-restart');
  if (pgFaults.length) {
    out('');
    out('while Postgres was down, commands answered:');
    const merged: Record<string, number> = {};
    for (const fault of pgFaults) for (const [k, n] of Object.entries(fault.attempts.failures)) merged[k] = (merged[k] ?? 0) + n;
    for (const [what, n] of Object.entries(merged).sort(([, a], [, b]) => b - a)) out(`  ${String(n).padStart(5)} × ${what}`);
    out(`  slowest answer: ${ms(Math.max(...pgFaults.map((f) => f.attempts.maxMs)))}`);
    out(`  after the heal: first acknowledged command ${pgFaults.map((f) => `${f.id} ${ms(f.attempts.firstAckAfterHealMs)}`).join(', ')}; ${pgFaults.reduce((n, f) => n + f.attempts.retriesAckedAfterHeal, 0)} retries with their key acknowledged`);
  }
  if (report.deadLetters.length) {
    out('');
    out(`dead letters: ${report.deadLetters.length}`);
    for (const letter of report.deadLetters.slice(0, 20)) out(`  ${letter.consumer} ${letter.streamId} v${letter.version} after ${letter.deliveries} deliveries${letter.resolved ? ' (resolved)' : ''}: ${letter.reason}`);
  }
  out('');
  out('memory (RSS in MB: first / max / last; then over time)');
  const samples = report.memory.samples;
  const picks = samples.length <= 10 ? samples : Array.from({ length: 10 }, (_, i) => samples[Math.round((i * (samples.length - 1)) / 9)]!);
  out(`  ${''.padEnd(12)} ${''.padEnd(17)} ${picks.map((sample) => `${sample.t}s`.padStart(6)).join('')}`);
  for (const [name, m] of Object.entries(report.memory.byProcess))
    out(`  ${name.padEnd(12)} ${`${m.firstMb ?? '-'} / ${m.maxMb ?? '-'} / ${m.lastMb ?? '-'}`.padEnd(17)} ${picks.map((sample) => String(sample.rssMb[name] ?? '-').padStart(6)).join('')}`);
  out('open file descriptors (first / max / last)');
  for (const [name, m] of Object.entries(report.memory.byProcess)) out(`  ${name.padEnd(12)} ${m.firstFds ?? '-'} / ${m.maxFds ?? '-'} / ${m.lastFds ?? '-'}`);
  if (samples.length && samples.at(-1)!.t >= 300) {
    // Long runs: one line a minute, RSS MB (open fds) per process, to see flat or growing.
    out('');
    out('every minute: RSS MB (open fds)');
    const names = Object.keys(report.memory.byProcess);
    out(`  ${'min'.padStart(4)} ${names.map((name) => name.padStart(14)).join('')}`);
    for (let minute = 1; ; minute++) {
      const sample = samples.find((candidate) => candidate.t >= minute * 60);
      if (!sample) break;
      out(`  ${String(minute).padStart(4)} ${names.map((name) => `${sample.rssMb[name] ?? '-'} (${sample.fds?.[name] ?? '-'})`.padStart(14)).join('')}`);
    }
  }
  const exits = report.processEvents.unexpectedExits;
  if (exits.length) {
    out('');
    out(`processes that exited on their own: ${exits.length}`);
    for (const exit of exits.slice(0, 10)) out(`  ${exit.at} ${exit.process} code ${exit.code} signal ${exit.signal}: ${exit.lastErrors.at(-1) ?? ''}`);
  }
  if (report.processEvents.startFailures.length) {
    out(`refused starts (retried): ${report.processEvents.startFailures.length}, e.g. ${report.processEvents.startFailures[0]!.process}: ${report.processEvents.startFailures[0]!.lastErrors.at(-1) ?? ''}`);
  }
}
