// The registry: one entry per read model. The projector runtime, status, rebuild and the GraphQL schema
// find every read model here, so a new one is its folder plus one line below.
import { orderDetails } from './orderDetails/projection.js';
import { orderStats } from './orderStats/projection.js';
import type { Projection } from './projection.js';
import { userOrders } from './userOrders/projection.js';

export interface ReadModel {
  projection: Projection<unknown>;
  /**
   * Adds the read model's GraphQL types and fields to the one builder. Loaded on demand, so a process
   * that only projects never loads the schema.
   */
  schema: () => Promise<unknown>;
}

const readModel = <D>(projection: Projection<D>, schema: ReadModel['schema']): ReadModel => ({ projection: projection as Projection<unknown>, schema });

/** Every read model, in the order status and `rebuild all` list them. */
export const readModels: readonly ReadModel[] = [
  readModel(orderDetails, () => import('./orderDetails/schema.js')),
  readModel(userOrders, () => import('./userOrders/schema.js')),
  readModel(orderStats, () => import('./orderStats/schema.js')),
];

export const projections: readonly Projection<unknown>[] = readModels.map((model) => model.projection);
