import { randomUUID } from 'node:crypto';
import type { OrderItem } from '../domain/order/index.js';
import { type CommandDeps, type CommandOptions, type CommandResult, handleCommand } from './handleCommand.js';

export type { CommandResult, CommandOptions } from './handleCommand.js';

type Options = Omit<CommandOptions, 'request'>;

// One thin handler per command: shape the command, hand it to the shared routine.
export function createCommandHandlers(deps: CommandDeps) {
  return {
    createOrder(input: { orderId?: string | null; currency?: string | null; items: OrderItem[] }, options: Options): Promise<CommandResult> {
      const orderId = input.orderId ?? randomUUID();
      const data = { orderId, currency: input.currency ?? 'USD', items: input.items };
      return handleCommand(deps, { type: 'CreateOrder', data }, { ...options, request: input });
    },
    addOrderItem(orderId: string, item: OrderItem, options: Options) {
      return handleCommand(deps, { type: 'AddOrderItem', data: { orderId, item } }, { ...options, request: { orderId, item } });
    },
    removeOrderItem(orderId: string, sku: string, options: Options) {
      return handleCommand(deps, { type: 'RemoveOrderItem', data: { orderId, sku } }, { ...options, request: { orderId, sku } });
    },
    confirmOrder(orderId: string, options: Options) {
      return handleCommand(deps, { type: 'ConfirmOrder', data: { orderId } }, { ...options, request: { orderId } });
    },
    payOrder(orderId: string, paymentReference: string, options: Options) {
      const data = { orderId, paymentReference };
      return handleCommand(deps, { type: 'PayOrder', data }, { ...options, request: data });
    },
    shipOrder(orderId: string, trackingNumber: string, options: Options) {
      const data = { orderId, trackingNumber };
      return handleCommand(deps, { type: 'ShipOrder', data }, { ...options, request: data });
    },
    deliverOrder(orderId: string, options: Options) {
      return handleCommand(deps, { type: 'DeliverOrder', data: { orderId } }, { ...options, request: { orderId } });
    },
    cancelOrder(orderId: string, reason: string, options: Options) {
      const data = { orderId, reason };
      return handleCommand(deps, { type: 'CancelOrder', data }, { ...options, request: data });
    },
  };
}

export type CommandHandlers = ReturnType<typeof createCommandHandlers>;
