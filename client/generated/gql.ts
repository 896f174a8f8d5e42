/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation CreateOrder($input: CreateOrderInput!, $idempotencyKey: String) {\n  createOrder(input: $input, idempotencyKey: $idempotencyKey) {\n    orderId\n    version\n    position\n    commandId\n    correlationId\n    events\n  }\n}\n\nmutation AddOrderItem($orderId: ID!, $item: OrderItemInput!, $expectedVersion: Int, $idempotencyKey: String) {\n  addOrderItem(\n    orderId: $orderId\n    item: $item\n    expectedVersion: $expectedVersion\n    idempotencyKey: $idempotencyKey\n  ) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation ConfirmOrder($orderId: ID!, $expectedVersion: Int) {\n  confirmOrder(orderId: $orderId, expectedVersion: $expectedVersion) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation PayOrder($orderId: ID!, $paymentReference: String!) {\n  payOrder(orderId: $orderId, paymentReference: $paymentReference) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation CancelOrder($orderId: ID!, $reason: String!) {\n  cancelOrder(orderId: $orderId, reason: $reason) {\n    orderId\n    version\n    events\n  }\n}\n\nquery Order($id: ID!, $minVersion: Int, $timeoutMs: Int) {\n  order(id: $id, minVersion: $minVersion, timeoutMs: $timeoutMs) {\n    id\n    userId\n    status\n    currency\n    totalCents\n    version\n    createdAt\n    updatedAt\n    items {\n      sku\n      name\n      quantity\n      unitPriceCents\n      lineTotalCents\n    }\n    freshness {\n      version\n      eventAt\n      projectedAt\n      lagMs\n      ageMs\n    }\n  }\n}\n\nsubscription OrderUpdated($id: ID!) {\n  orderUpdated(id: $id) {\n    eventType\n    version\n    previousVersion\n    deliveredAt\n    endToEndLagMs\n    freshness {\n      version\n      lagMs\n    }\n    order {\n      id\n      status\n      version\n      totalCents\n    }\n  }\n}": typeof types.CreateOrderDocument,
};
const documents: Documents = {
    "mutation CreateOrder($input: CreateOrderInput!, $idempotencyKey: String) {\n  createOrder(input: $input, idempotencyKey: $idempotencyKey) {\n    orderId\n    version\n    position\n    commandId\n    correlationId\n    events\n  }\n}\n\nmutation AddOrderItem($orderId: ID!, $item: OrderItemInput!, $expectedVersion: Int, $idempotencyKey: String) {\n  addOrderItem(\n    orderId: $orderId\n    item: $item\n    expectedVersion: $expectedVersion\n    idempotencyKey: $idempotencyKey\n  ) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation ConfirmOrder($orderId: ID!, $expectedVersion: Int) {\n  confirmOrder(orderId: $orderId, expectedVersion: $expectedVersion) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation PayOrder($orderId: ID!, $paymentReference: String!) {\n  payOrder(orderId: $orderId, paymentReference: $paymentReference) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation CancelOrder($orderId: ID!, $reason: String!) {\n  cancelOrder(orderId: $orderId, reason: $reason) {\n    orderId\n    version\n    events\n  }\n}\n\nquery Order($id: ID!, $minVersion: Int, $timeoutMs: Int) {\n  order(id: $id, minVersion: $minVersion, timeoutMs: $timeoutMs) {\n    id\n    userId\n    status\n    currency\n    totalCents\n    version\n    createdAt\n    updatedAt\n    items {\n      sku\n      name\n      quantity\n      unitPriceCents\n      lineTotalCents\n    }\n    freshness {\n      version\n      eventAt\n      projectedAt\n      lagMs\n      ageMs\n    }\n  }\n}\n\nsubscription OrderUpdated($id: ID!) {\n  orderUpdated(id: $id) {\n    eventType\n    version\n    previousVersion\n    deliveredAt\n    endToEndLagMs\n    freshness {\n      version\n      lagMs\n    }\n    order {\n      id\n      status\n      version\n      totalCents\n    }\n  }\n}": types.CreateOrderDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateOrder($input: CreateOrderInput!, $idempotencyKey: String) {\n  createOrder(input: $input, idempotencyKey: $idempotencyKey) {\n    orderId\n    version\n    position\n    commandId\n    correlationId\n    events\n  }\n}\n\nmutation AddOrderItem($orderId: ID!, $item: OrderItemInput!, $expectedVersion: Int, $idempotencyKey: String) {\n  addOrderItem(\n    orderId: $orderId\n    item: $item\n    expectedVersion: $expectedVersion\n    idempotencyKey: $idempotencyKey\n  ) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation ConfirmOrder($orderId: ID!, $expectedVersion: Int) {\n  confirmOrder(orderId: $orderId, expectedVersion: $expectedVersion) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation PayOrder($orderId: ID!, $paymentReference: String!) {\n  payOrder(orderId: $orderId, paymentReference: $paymentReference) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation CancelOrder($orderId: ID!, $reason: String!) {\n  cancelOrder(orderId: $orderId, reason: $reason) {\n    orderId\n    version\n    events\n  }\n}\n\nquery Order($id: ID!, $minVersion: Int, $timeoutMs: Int) {\n  order(id: $id, minVersion: $minVersion, timeoutMs: $timeoutMs) {\n    id\n    userId\n    status\n    currency\n    totalCents\n    version\n    createdAt\n    updatedAt\n    items {\n      sku\n      name\n      quantity\n      unitPriceCents\n      lineTotalCents\n    }\n    freshness {\n      version\n      eventAt\n      projectedAt\n      lagMs\n      ageMs\n    }\n  }\n}\n\nsubscription OrderUpdated($id: ID!) {\n  orderUpdated(id: $id) {\n    eventType\n    version\n    previousVersion\n    deliveredAt\n    endToEndLagMs\n    freshness {\n      version\n      lagMs\n    }\n    order {\n      id\n      status\n      version\n      totalCents\n    }\n  }\n}"): (typeof documents)["mutation CreateOrder($input: CreateOrderInput!, $idempotencyKey: String) {\n  createOrder(input: $input, idempotencyKey: $idempotencyKey) {\n    orderId\n    version\n    position\n    commandId\n    correlationId\n    events\n  }\n}\n\nmutation AddOrderItem($orderId: ID!, $item: OrderItemInput!, $expectedVersion: Int, $idempotencyKey: String) {\n  addOrderItem(\n    orderId: $orderId\n    item: $item\n    expectedVersion: $expectedVersion\n    idempotencyKey: $idempotencyKey\n  ) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation ConfirmOrder($orderId: ID!, $expectedVersion: Int) {\n  confirmOrder(orderId: $orderId, expectedVersion: $expectedVersion) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation PayOrder($orderId: ID!, $paymentReference: String!) {\n  payOrder(orderId: $orderId, paymentReference: $paymentReference) {\n    orderId\n    version\n    events\n  }\n}\n\nmutation CancelOrder($orderId: ID!, $reason: String!) {\n  cancelOrder(orderId: $orderId, reason: $reason) {\n    orderId\n    version\n    events\n  }\n}\n\nquery Order($id: ID!, $minVersion: Int, $timeoutMs: Int) {\n  order(id: $id, minVersion: $minVersion, timeoutMs: $timeoutMs) {\n    id\n    userId\n    status\n    currency\n    totalCents\n    version\n    createdAt\n    updatedAt\n    items {\n      sku\n      name\n      quantity\n      unitPriceCents\n      lineTotalCents\n    }\n    freshness {\n      version\n      eventAt\n      projectedAt\n      lagMs\n      ageMs\n    }\n  }\n}\n\nsubscription OrderUpdated($id: ID!) {\n  orderUpdated(id: $id) {\n    eventType\n    version\n    previousVersion\n    deliveredAt\n    endToEndLagMs\n    freshness {\n      version\n      lagMs\n    }\n    order {\n      id\n      status\n      version\n      totalCents\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;