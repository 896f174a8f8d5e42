import type { OrderItem } from './events.js';

export interface Caller {
  userId: string;
  roles: string[];
}

export type OrderCommand =
  | { type: 'CreateOrder'; data: { orderId: string; currency: string; items: OrderItem[] } }
  | { type: 'AddOrderItem'; data: { orderId: string; item: OrderItem } }
  | { type: 'RemoveOrderItem'; data: { orderId: string; sku: string } }
  | { type: 'ConfirmOrder'; data: { orderId: string } }
  | { type: 'PayOrder'; data: { orderId: string; paymentReference: string } }
  | { type: 'ShipOrder'; data: { orderId: string; trackingNumber: string } }
  | { type: 'DeliverOrder'; data: { orderId: string } }
  | { type: 'CancelOrder'; data: { orderId: string; reason: string } };

export type OrderCommandType = OrderCommand['type'];

export const isAdmin = (caller: Caller): boolean => caller.roles.includes('admin');
