// Starting workers against NATS: several relay+projector processes started at the same moment on a
// NATS that has no stream yet all start (creating the stream and consumers is idempotent and retried),
// and a NATS_URL listing several servers, one of them down, is a list: any live server will do.
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateNats } from '../../faults/infra.js';
import { JetStreamBus } from '../../src/infrastructure/nats/jetStreamBus.js';
import { freePort } from '../../faults/util.js';
import { type IsolatedServices, isolatedServices, type StartedServer, startServer } from './harness.js';

let dir: string;
let nats: PrivateNats;
let services: IsolatedServices;
const servers: StartedServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cqrs-nats-start-'));
  await chmod(dir, 0o755);
  nats = await PrivateNats.create(dir, dir);
  services = await isolatedServices('natsstart');
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await nats?.process.close();
  await services?.cleanup().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

describe('when three relay+projector processes start at the same moment on a NATS without the stream', () => {
  it('all of them start', async () => {
    const env = { ...services.env, NATS_URL: nats.url, ROLE: 'relay,projector' };
    const started = await Promise.allSettled([1, 2, 3].map(() => startServer(env)));
    for (const result of started) if (result.status === 'fulfilled') servers.push(result.value);
    expect(started.map((result) => (result.status === 'fulfilled' ? 'started' : String(result.reason).slice(0, 500)))).toEqual(['started', 'started', 'started']);
  }, 120_000);
});

const tries = 3;

// The processes above reach their setup seconds apart (each compiles and connects first); here the
// setups of many buses meet on the server within a millisecond, as workers' do on a busy start.
describe('when many buses set up the stream and the same durable consumers at the same instant on a fresh NATS', () => {
  it('every setup succeeds, every time', async () => {
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < tries; attempt++) {
      const fresh = await PrivateNats.create(await mkdtemp(path.join(dir, `bus${attempt}-`)), dir);
      const buses: JetStreamBus[] = [];
      try {
        const setups = await Promise.allSettled(
          Array.from({ length: 8 }, async () => {
            const bus = await JetStreamBus.connect({ url: fresh.url, stream: 'RACE' });
            buses.push(bus);
            await Promise.all(['orderDetails', 'orderStats', 'userOrders'].map((durable) => bus.subscribe(durable, async (message) => message.ack())));
          }),
        );
        outcomes.push(...setups.map((result) => (result.status === 'fulfilled' ? 'ok' : String(result.reason).slice(0, 300))));
      } finally {
        await Promise.all(buses.map((bus) => bus.close().catch(() => {})));
        await fresh.process.close();
      }
    }
    expect(outcomes.filter((outcome) => outcome !== 'ok')).toEqual([]);
  }, 120_000);
});

describe('when NATS_URL lists three servers and the last one is down', () => {
  it('starts on a live one', async () => {
    const down = `nats://127.0.0.1:${await freePort()}`;
    const server = await startServer({ ...services.env, NATS_URL: `${nats.url}, ${nats.url.replace('127.0.0.1', 'localhost')},${down}`, ROLE: 'relay' });
    servers.push(server);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
  }, 60_000);
});
