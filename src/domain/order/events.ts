// The facts of an order's life. Event data holds only what the decision produced; who, when and why
// travel in the event metadata and the time the store records.
/** Every status, in lifecycle order (CANCELLED last): GraphQL's enum and per-status counts follow it. */
export const orderStatuses = ['CREATED', 'CONFIRMED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export interface OrderItem {
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
}

export type OrderEvent =
  | { type: 'OrderCreated'; data: { orderId: string; userId: string; currency: string; items: OrderItem[] } }
  | { type: 'OrderItemAdded'; data: { item: OrderItem } }
  | { type: 'OrderItemRemoved'; data: { sku: string } }
  | { type: 'OrderConfirmed'; data: Record<string, never> }
  | { type: 'OrderPaid'; data: { paymentReference: string } }
  | { type: 'OrderShipped'; data: { trackingNumber: string } }
  | { type: 'OrderDelivered'; data: Record<string, never> }
  | { type: 'OrderCancelled'; data: { reason: string } };

export type OrderEventType = OrderEvent['type'];

/** The schema version new events are written with; older ones are upcast on read. */
export const currentSchemaVersion: Record<OrderEventType, number> = {
  OrderCreated: 2, // v1 had no currency
  OrderItemAdded: 1,
  OrderItemRemoved: 1,
  OrderConfirmed: 1,
  OrderPaid: 1,
  OrderShipped: 1,
  OrderDelivered: 1,
  OrderCancelled: 1,
};

/** Every event type this code knows, from the one table above. */
export const orderEventTypes = Object.keys(currentSchemaVersion) as OrderEventType[];

export const isOrderEventType = (type: string): type is OrderEventType => Object.hasOwn(currentSchemaVersion, type);

export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
