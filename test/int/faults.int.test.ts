// The CI fault profile (faults/run.ts --profile ci): the service's roles as processes on private
// Postgres, NATS and Redis, a recorded command load, and every kind of fault once. About 2.5 minutes.
import { describe, expect, it, onTestFinished } from 'vitest';
import { PrismaDeadLetters } from '../../src/infrastructure/postgres/deadLetters.js';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
import { ci } from '../../faults/profiles.js';
import type { Report } from '../../faults/report.js';
import { runFaults } from '../../faults/runner.js';
import { expectConverged } from './convergence.js';

describe('when relays, projectors, NATS, Redis and Postgres fail under a command load', () => {
  let report: Report;
  let sharedCheck: 'passed' | 'not run' | Error = 'not run';

  it('runs every kind of fault and writes a report', async () => {
    // One block of output at the end rather than one per line.
    const lines: string[] = [];
    const keep = (line: string) => void lines.push(line);
    onTestFinished(() => console.log(lines.join('\n')));
    ({ report } = await runFaults({
      profile: ci,
      log: (line) => keep(`[faults ${new Date().toISOString().slice(11, 19)}] ${line}`),
      print: keep,
      // The pipeline's own convergence check (documents, lists, statistics) on the same servers.
      beforeTeardown: async ({ infra, checker }) => {
        const prisma = createPrismaClient({ url: infra.postgres.url });
        try {
          await expectConverged({ store: checker.store, readStore: checker.readStore, deadLetters: new PrismaDeadLetters(prisma) }, 30_000);
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

  it('agrees with the pipeline convergence check (documents, lists, statistics) at the end', () => {
    if (sharedCheck instanceof Error) throw sharedCheck;
    expect(sharedCheck).toBe('passed');
  });
});
