import { currentSchemaVersion, isOrderEventType, type OrderEvent, type OrderEventType } from './events.js';

// Stored events keep the shape they were written with. Reading runs them through this chain, one
// step per schema version, so the domain and the projectors only ever see the current shape.
type Step = (data: Record<string, unknown>) => Record<string, unknown>;

const steps: Partial<Record<OrderEventType, Record<number, Step>>> = {
  OrderCreated: {
    // v1 → v2: orders were USD-only before currency became part of the order.
    1: (data) => ({ ...data, currency: 'USD' }),
  },
};

export function upcast(type: string, schemaVersion: number, data: unknown): OrderEvent {
  if (!isOrderEventType(type)) throw new Error(`unknown event type ${type}`);
  const eventType = type;
  // An event written by newer code cannot be read safely by this code.
  if (schemaVersion > currentSchemaVersion[eventType]) throw new Error(`${type} v${schemaVersion} is newer than this code knows`);
  let shaped = data as Record<string, unknown>;
  for (let version = schemaVersion; version < currentSchemaVersion[eventType]; version++) {
    const step = steps[eventType]?.[version];
    if (!step) throw new Error(`no upcaster for ${type} v${version}`);
    shaped = step(shaped);
  }
  return { type: eventType, data: shaped } as OrderEvent;
}
