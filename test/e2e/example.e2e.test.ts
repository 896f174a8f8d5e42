import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IsolatedServices, isolatedServices, type StartedServer, startServer, tokenFor } from './harness.js';

function run(file: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('given a started server on the real services', () => {
  let services: IsolatedServices;
  let server: StartedServer;

  beforeAll(async () => {
    services = await isolatedServices('example');
    server = await startServer({ ...services.env, OUTBOX_POLL_MS: '200' });
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    await services?.cleanup();
  });

  describe('when examples/followOrder.ts runs with --drive', () => {
    it('creates an order, follows it live and prints every change with its lag, then exits', async () => {
      const { code, stdout, stderr } = await run('examples/followOrder.ts', ['--drive'], { GRAPHQL_URL: `${server.url}/graphql`, TOKEN: await tokenFor('example-user') });
      expect(code, stderr).toBe(0);
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^created order \S+ \(v1, CREATED, projected after \d+\.\d ms\)$/);
      const changes = lines.slice(1).map((line) => /^v(\d+) (\w+)\s+(\w+)\s+25\.00  projected after \d+\.\d ms, on screen after -?\d+\.\d ms$/.exec(line));
      expect(changes.every(Boolean), stdout).toBe(true);
      expect(changes.map((match) => [Number(match![1]), match![2], match![3]])).toEqual([
        [1, 'Snapshot', 'CREATED'],
        [2, 'OrderConfirmed', 'CONFIRMED'],
        [3, 'OrderPaid', 'PAID'],
        [4, 'OrderCancelled', 'CANCELLED'],
      ]);
    });
  });

  describe('when it runs without a token', () => {
    it('says how to get one and exits with 2', async () => {
      const { code, stderr } = await run('examples/followOrder.ts', [], { GRAPHQL_URL: `${server.url}/graphql` });
      expect(code).toBe(2);
      expect(stderr).toContain('npm run -s token');
    });
  });
});
