// The CI fault profile (faults/run.ts --profile ci): the service's roles as processes on private
// Postgres, NATS and Redis, a recorded command load, and every kind of fault once. About 2.5 minutes.
import { describe, expect, it, onTestFinished } from 'vitest';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
import type { EventStore, ReadStore } from '../../src/ports.js';
import { ci } from '../../faults/profiles.js';
import type { Report } from '../../faults/report.js';
import { runFaults } from '../../faults/runner.js';

type ExpectConverged = (deps: { store: EventStore; readStore: ReadStore; deadLetters: unknown }, timeout?: number) => Promise<void>;

/** The pipeline's own convergence check (documents, lists, statistics), when this build has it. */
async function sharedConvergenceCheck(): Promise<{ expectConverged: ExpectConverged; PrismaDeadLetters: new (prisma: unknown) => unknown } | null> {
  // By path: both files are newer than this test and may be missing from a checkout.
  const helper = './convergence.js';
  const letters = '../../src/infrastructure/postgres/deadLetters.js';
  const [convergence, deadLetters] = await Promise.all([import(helper).catch(() => null), import(letters).catch(() => null)]);
  return convergence?.expectConverged && deadLetters?.PrismaDeadLetters ? { expectConverged: convergence.expectConverged, PrismaDeadLetters: deadLetters.PrismaDeadLetters } : null;
}

describe('when relays, projectors, NATS, Redis and Postgres fail under a command load', () => {
  let report: Report;
  let sharedCheck: 'passed' | 'absent' | Error = 'absent';

  it('runs every kind of fault and writes a report', async () => {
    const shared = await sharedConvergenceCheck();
    // One block of output at the end rather than one per line.
    const lines: string[] = [];
    const keep = (line: string) => void lines.push(line);
    onTestFinished(() => console.log(lines.join('\n')));
    ({ report } = await runFaults({
      profile: ci,
      log: (line) => keep(`[faults ${new Date().toISOString().slice(11, 19)}] ${line}`),
      print: keep,
      beforeTeardown: async ({ infra, checker }) => {
        if (!shared) return;
        const prisma = createPrismaClient({ url: infra.postgres.url });
        try {
          await shared.expectConverged({ store: checker.store, readStore: checker.readStore, deadLetters: new shared.PrismaDeadLetters(prisma) }, 30_000);
          sharedCheck = 'passed';
        } catch (error) {
          sharedCheck = error instanceof Error ? error : new Error(String(error));
        } finally {
          await prisma.$disconnect();
        }
      },
    }));
    expect(report.faults.injected).toBe([...ci.schedule(Math.random)].length);
    expect(report.verdict.failures.filter((failure) => failure.startsWith('the run stopped early'))).toEqual([]);
  }, 300_000);

  it('loses no acknowledged command', () => {
    expect(report.integrity?.lost ?? 'no integrity check ran').toEqual([]);
  });

  it('applies no command twice and writes none by halves', () => {
    expect(report.integrity?.duplicated ?? 'no integrity check ran').toEqual([]);
    expect(report.integrity?.halfWritten).toEqual([]);
    expect(report.integrity?.quantityMismatches).toEqual([]);
    expect(report.integrity?.refusedButApplied).toEqual([]);
  });

  it('converges after every fault and at the end', () => {
    const notConverged = report.faults.list.filter((fault) => !fault.check.convergence.converged).map((fault) => ({ id: fault.id, kind: fault.kind, mismatches: fault.check.convergence.mismatches }));
    expect(notConverged).toEqual([]);
    expect(report.final?.convergence.converged).toBe(true);
  });

  it('agrees with the pipeline convergence check (documents, lists, statistics) at the end', (ctx) => {
    if (sharedCheck === 'absent') ctx.skip();
    if (sharedCheck instanceof Error) throw sharedCheck;
  });
});
