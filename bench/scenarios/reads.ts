// order(id) over HTTP against the CQRS service (Redis behind it), beside the CRUD server reading
// Postgres, a trivial query on the CQRS server (what Yoga, auth and HTTP cost alone), and
// redis-benchmark GET (what Redis answers with nothing in front of it).
import { GraphQLHttp, benchUser, tokenFor } from '../lib/graphql.js';
import { closedLoop } from '../lib/load.js';
import { readOrder, seedOrders, settle } from '../lib/operations.js';
import { errorNote, loadRow, ratioRow, type Row } from '../lib/results.js';
import { redisGets } from '../lib/tools.js';
import type { Scenario } from './context.js';

async function measureReads(http: GraphQLHttp, clients: number, seconds: number, orders: string[][]) {
  let next = 0;
  return closedLoop(clients, seconds, (client) => {
    const own = orders[client]!;
    return readOrder(http, client, own[next++ % own.length]!);
  });
}

async function measureFloor(http: GraphQLHttp, clients: number, seconds: number) {
  return closedLoop(clients, seconds, async (client) => http.request('{ __typename }', {}, await tokenFor(benchUser(client))));
}

export const reads: Scenario = async ({ env, profile }) => {
  const maxClients = Math.max(...profile.clients);
  const [service, crud] = await Promise.all([env.service(), env.crud()]);
  const cqrsHttp = new GraphQLHttp(service.url, maxClients);
  const crudHttp = new GraphQLHttp(crud.url, maxClients);
  try {
    const cqrsOrders = await seedOrders(cqrsHttp, maxClients, profile.seedOrdersPerUser);
    const crudOrders = await seedOrders(crudHttp, maxClients, profile.seedOrdersPerUser);
    const lastClient = maxClients - 1;
    await settle(env, cqrsHttp, lastClient, cqrsOrders[lastClient]!.at(-1)!);

    await measureReads(cqrsHttp, 8, profile.warmupSeconds, cqrsOrders);
    await measureReads(crudHttp, 8, profile.warmupSeconds, crudOrders);
    const rows: Row[] = [];
    const notes: string[] = [];
    for (const clients of profile.clients) {
      const cqrs = await measureReads(cqrsHttp, clients, profile.seconds, cqrsOrders);
      const plain = await measureReads(crudHttp, clients, profile.seconds, crudOrders);
      const floor = await measureFloor(cqrsHttp, clients, profile.seconds);
      const redis = await redisGets(clients, profile.seconds);
      const [a, b, c, d] = [
        loadRow('CQRS order(id)', clients, cqrs),
        loadRow('CRUD order(id)', clients, plain),
        loadRow('CQRS { __typename }', clients, floor),
        loadRow('redis-benchmark GET', clients, redis),
      ];
      rows.push(a, b, c, d, ratioRow('CQRS/CRUD', a, b), ratioRow('CQRS/GraphQL floor', a, c), ratioRow('CQRS/Redis GET', a, d));
      for (const [system, outcome] of [['CQRS order(id)', cqrs], ['CRUD order(id)', plain], ['CQRS { __typename }', floor]] as const)
        notes.push(...errorNote(system, `${clients} clients`, outcome));
    }
    return { name: 'reads', title: 'order(id) over HTTP (closed loop)', levelName: 'clients', columns: ['req/s', 'p50 ms', 'p99 ms'], chartColumn: 0, rows, notes };
  } finally {
    cqrsHttp.close();
    crudHttp.close();
  }
};
