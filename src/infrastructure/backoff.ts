/** Delay before a failed handler sees a message again: 200ms, 400ms, ... capped at 10s. */
export function retryDelayMs(deliveryCount: number): number {
  return Math.min(200 * 2 ** (deliveryCount - 1), 10_000);
}
