// order(id)'s capacity: wrk keeps 1, 8, 32 and 64 connections busy (closed loop) reading orders (each
// caller its own, in turn) from the CQRS service, in both deployments, beside the bare graphql-yoga floor
// answering `{ __typename }` (no plugins, no auth: nothing a GraphQL read over HTTP can cost less than),
// the CRUD baseline reading Postgres, and redis-benchmark GET (Redis alone). Three repeats; ratio rows
// are medians of paired ratios with their range.
import { benchUser, GraphQLHttp, tokenFor } from '../lib/graphql.js';
import { topologies } from '../lib/env.js';
import { orderQuery, seedOrders, settle } from '../lib/operations.js';
import { errorNote, type Row } from '../lib/results.js';
import { redisGets } from '../lib/tools.js';
import { requireWrk, warmUp, type WrkRequest, wrkWithCpu } from '../lib/wrk.js';
import { generatorNote, ratioRow, throughputColumns, throughputRow } from './commands.js';
import type { Scenario } from './context.js';

export const readRatioGoal = 0.8;
const callers = 16;

async function readRequests(orders: string[][]): Promise<WrkRequest[]> {
  const requests: WrkRequest[] = [];
  for (const [user, own] of orders.entries()) {
    const token = await tokenFor(benchUser(user));
    for (const id of own) requests.push({ token, body: JSON.stringify({ query: orderQuery, variables: { id } }) });
  }
  return requests;
}

export const reads: Scenario = async (context) => {
  const { env, profile } = context;
  requireWrk();
  const [crud, floor] = await Promise.all([env.crud(), env.floor()]);
  const crudHttp = new GraphQLHttp(crud.url, 8);
  const crudReads = await readRequests(await seedOrders(crudHttp, callers, profile.seedOrdersPerUser)).finally(() => crudHttp.close());
  const floorReads: WrkRequest[] = [{ token: null, body: JSON.stringify({ query: '{ __typename }' }) }];

  const rows: Row[] = [];
  const notes: string[] = [];
  const cpu: number[] = [];
  let cqrsReads: WrkRequest[] | null = null;
  for (const topology of topologies) {
    const deployment = await env.deployment(topology);
    try {
      if (!cqrsReads) {
        const http = new GraphQLHttp(deployment.commandUrl, 8);
        cqrsReads = await readRequests(await seedOrders(http, callers, profile.seedOrdersPerUser)).finally(() => http.close());
      }
      await settle(env, deployment);
      await warmUp(deployment.queryUrl, profile.warmupSeconds, cqrsReads);
      await warmUp(floor.url, profile.warmupSeconds, floorReads);
      await warmUp(crud.url, profile.warmupSeconds, crudReads);
      for (const connections of profile.clients) {
        type Measured = Awaited<ReturnType<typeof wrkWithCpu>>;
        const cqrs: Measured[] = [];
        const bare: Measured[] = [];
        const plain: Measured[] = [];
        const queryPids = deployment.topology === 'all' ? deployment.servers.map((s) => s.pid) : [deployment.servers[1]!.pid];
        for (let repeat = 0; repeat < profile.repeats; repeat++) {
          cqrs.push(await wrkWithCpu(deployment.queryUrl, connections, profile.seconds, cqrsReads, queryPids));
          bare.push(await wrkWithCpu(floor.url, connections, profile.seconds, floorReads, [floor.pid]));
          plain.push(await wrkWithCpu(crud.url, connections, profile.seconds, crudReads, [crud.pid]));
        }
        const level = `${topology} ${connections}`;
        rows.push(
          throughputRow('CQRS order(id)', level, cqrs, null),
          throughputRow('bare Yoga { __typename }', level, bare, null),
          throughputRow('CRUD order(id)', level, plain, null),
          ratioRow('CQRS/bare Yoga', level, cqrs.map((r, i) => r.perSecond / bare[i]!.perSecond), readRatioGoal),
          ratioRow('CQRS/CRUD', level, cqrs.map((r, i) => r.perSecond / plain[i]!.perSecond), 1),
        );
        if (topology === 'all') {
          const redis = await redisGets(connections, profile.seconds);
          rows.push({ system: 'redis-benchmark GET', level, values: [redis.perSecond, null, null, redis.p50, redis.p99, null, null, null] });
        }
        for (const [system, results] of [['CQRS order(id)', cqrs], ['bare Yoga', bare], ['CRUD order(id)', plain]] as const)
          for (const result of results) notes.push(...errorNote(system, `${level} connections`, result)), cpu.push(result.generatorCpu);
      }
    } finally {
      await env.stopDeployment(deployment);
    }
  }
  notes.unshift(generatorNote(cpu));
  return {
    name: 'reads',
    title: `order(id) over HTTP, closed loop (wrk), ${profile.repeats} repeats`,
    levelName: 'deployment, connections',
    columns: throughputColumns,
    chartColumn: 0,
    rows,
    notes,
  };
};
