import { assertNever, type OrderEvent, type OrderItem, type OrderStatus } from './events.js';

/** What decisions need to know about an order; null before it exists. */
export interface OrderState {
  id: string;
  userId: string;
  status: OrderStatus;
  currency: string;
  items: OrderItem[];
}

export function evolve(state: OrderState | null, event: OrderEvent): OrderState | null {
  if (event.type === 'OrderCreated') {
    const { orderId, userId, currency, items } = event.data;
    return { id: orderId, userId, currency, items, status: 'CREATED' };
  }
  if (!state) throw new Error(`${event.type} before OrderCreated`);
  switch (event.type) {
    case 'OrderItemAdded':
      return { ...state, items: addItem(state.items, event.data.item) };
    case 'OrderItemRemoved':
      return { ...state, items: state.items.filter((item) => item.sku !== event.data.sku) };
    case 'OrderConfirmed':
      return { ...state, status: 'CONFIRMED' };
    case 'OrderPaid':
      return { ...state, status: 'PAID' };
    case 'OrderShipped':
      return { ...state, status: 'SHIPPED' };
    case 'OrderDelivered':
      return { ...state, status: 'DELIVERED' };
    case 'OrderCancelled':
      return { ...state, status: 'CANCELLED' };
    default:
      return assertNever(event);
  }
}

/** Adding an existing sku adds to its quantity; the line keeps its first name and price. */
export function addItem(items: OrderItem[], item: OrderItem): OrderItem[] {
  const existing = items.find((line) => line.sku === item.sku);
  if (!existing) return [...items, item];
  return items.map((line) => (line.sku === item.sku ? { ...line, quantity: line.quantity + item.quantity } : line));
}

export function fold(events: Iterable<OrderEvent>, initial: OrderState | null = null): OrderState | null {
  let state = initial;
  for (const event of events) state = evolve(state, event);
  return state;
}
