/** One document per order, `order:<orderId>`: what `order(id)` reads and subscriptions watch. */
export const orderDetailsCollection = 'order';
