// A mixed command load from several customers (and an admin who ships and delivers), with a ledger of
// every attempt. Each logical command ("intent") carries a client-made id; each HTTP attempt carries its
// own x-correlation-id, which the service stores in the event metadata, so the checks can tell exactly
// which attempts took effect, including the ones whose answer never arrived.
//
// Intents with an idempotency key are retried with the same key and the same input after a network
// error or an unexpected server error, until answered or out of budget. Intents without a key are never
// retried: their outcome stays "unknown" and is resolved afterwards from the event store.
import { randomUUID } from 'node:crypto';
import { signToken } from '../src/auth.js';
import type { CommandResult } from '../src/commands/handleCommand.js';
import { sleep } from './util.js';

export type Op = 'createOrder' | 'addOrderItem' | 'confirmOrder' | 'payOrder' | 'cancelOrder' | 'shipOrder' | 'deliverOrder';
type Status = 'CREATED' | 'CONFIRMED' | 'PAID' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED';

export interface ItemInput {
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
}

export interface Attempt {
  correlationId: string;
  sentAt: number;
  ms: number;
  /** acked: a CommandResult; rejected: a documented refusal; error: any other error answer; network: no answer. */
  outcome: 'acked' | 'rejected' | 'error' | 'network';
  code?: string;
  message?: string;
  /** The fault that was active when the attempt was sent. */
  fault: string | null;
  /** The client gave up on purpose after a few ms, as a flaky network would. */
  aborted?: boolean;
  /** HTTP status of the answer, when there was one. */
  http?: number;
}

export interface Intent {
  id: string;
  op: Op;
  /** Who sends it (the admin for ship and deliver). */
  caller: string;
  /** Whose order it is. */
  owner: string;
  /** Known when sent, except for a keyed createOrder, where the service picks it. */
  orderId: string | null;
  key: string | null;
  variables: Record<string, unknown>;
  /** Sent on purpose against the lifecycle (e.g. paying an order not confirmed): must be refused. */
  invalid: boolean;
  /** Items it adds (createOrder: all of them). */
  items: ItemInput[];
  attempts: Attempt[];
  status: 'pending' | 'acked' | 'rejected' | 'unknown';
  result?: CommandResult;
  /** Every distinct CommandResult.commandId received across attempts: more than one is a doubled effect. */
  ackedCommandIds: string[];
}

const definitive = new Set(['BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'INVALID_STATE', 'RATE_LIMITED', 'QUERY_TOO_COMPLEX', 'ROLE_NOT_SERVED']);

const resultFields = 'orderId version position commandId correlationId events';
const mutations: Record<Op, string> = {
  createOrder: `mutation($input: CreateOrderInput!, $key: String) { createOrder(input: $input, idempotencyKey: $key) { ${resultFields} } }`,
  addOrderItem: `mutation($orderId: ID!, $item: OrderItemInput!, $key: String) { addOrderItem(orderId: $orderId, item: $item, idempotencyKey: $key) { ${resultFields} } }`,
  confirmOrder: `mutation($orderId: ID!, $key: String) { confirmOrder(orderId: $orderId, idempotencyKey: $key) { ${resultFields} } }`,
  payOrder: `mutation($orderId: ID!, $ref: String!, $key: String) { payOrder(orderId: $orderId, paymentReference: $ref, idempotencyKey: $key) { ${resultFields} } }`,
  cancelOrder: `mutation($orderId: ID!, $reason: String!, $key: String) { cancelOrder(orderId: $orderId, reason: $reason, idempotencyKey: $key) { ${resultFields} } }`,
  shipOrder: `mutation($orderId: ID!, $tracking: String!, $key: String) { shipOrder(orderId: $orderId, trackingNumber: $tracking, idempotencyKey: $key) { ${resultFields} } }`,
  deliverOrder: `mutation($orderId: ID!, $key: String) { deliverOrder(orderId: $orderId, idempotencyKey: $key) { ${resultFields} } }`,
};

const catalogue = Array.from({ length: 8 }, (_, i) => ({ sku: `SKU-${i + 1}`, unitPriceCents: 250 * (i + 1) }));

interface ClientOrder {
  id: string;
  owner: string;
  status: Status;
  busy: boolean;
  /** An intent on it ended unknown: the client no longer knows its state and leaves it alone. */
  retired: boolean;
}

export interface LoadOptions {
  url: () => string;
  jwtSecret: string;
  users: number;
  /** Concurrent intents per user. */
  concurrency: number;
  /** Intents started per second, all users together. */
  rate: number;
  /** Share of intents that carry an idempotency key. */
  keyedShare: number;
  /** Share of keyed attempts the client aborts after a few ms (a flaky network); retried with the key. */
  abortShare: number;
  /** Share of intents sent against the lifecycle on purpose. */
  invalidShare: number;
  requestTimeoutMs: number;
  /** How long a keyed intent keeps retrying. */
  retryBudgetMs: number;
  openOrdersPerUser: number;
  random: () => number;
}

export class Ledger {
  readonly intents: Intent[] = [];
  fault: string | null = null;

  get attempts(): Attempt[] {
    return this.intents.flatMap((intent) => intent.attempts);
  }
}

export class Load {
  readonly ledger = new Ledger();
  private readonly orders = new Map<string, ClientOrder[]>();
  private tokens = new Map<string, string>();
  private running = false;
  private paused = false;
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  private resumeWaiters: (() => void)[] = [];
  private nextSlot = 0;
  private workers: Promise<void>[] = [];

  constructor(private readonly options: LoadOptions) {}

  async start(): Promise<void> {
    const users = Array.from({ length: this.options.users }, (_, i) => `customer-${i + 1}`);
    for (const user of users) {
      this.tokens.set(user, await signToken(user, this.options.jwtSecret));
      this.orders.set(user, []);
    }
    this.tokens.set('ops', await signToken('ops', this.options.jwtSecret, { admin: true }));
    this.running = true;
    for (const user of users) for (let i = 0; i < this.options.concurrency; i++) this.workers.push(this.worker(user));
  }

  /** An order the load created and the service acknowledged, for faults aimed at one order's subject. */
  someOrderId(): string | null {
    const known = [...this.orders.values()].flat();
    return known.length ? known[Math.floor(this.options.random() * known.length)]!.id : null;
  }

  /** Stops starting intents and resolves when none is in flight (retries included). */
  async pause(): Promise<void> {
    this.paused = true;
    if (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  resume(): void {
    this.paused = false;
    for (const wake of this.resumeWaiters.splice(0)) wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.resume();
    await Promise.all(this.workers);
  }

  private async worker(user: string): Promise<void> {
    const { random } = this.options;
    // Spread the workers' first steps.
    await sleep(random() * 500);
    while (this.running) {
      if (this.paused) {
        await new Promise<void>((resolve) => this.resumeWaiters.push(resolve));
        continue;
      }
      await this.slot();
      if (this.paused || !this.running) continue;
      this.active++;
      try {
        await this.step(user);
      } finally {
        this.active--;
        if (this.active === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      }
    }
  }

  /** A global pace of `rate` intents per second. */
  private async slot(): Promise<void> {
    const now = Date.now();
    this.nextSlot = Math.max(this.nextSlot, now) + 1000 / this.options.rate;
    const wait = this.nextSlot - 1000 / this.options.rate - now;
    if (wait > 0) await sleep(wait);
  }

  private async step(user: string): Promise<void> {
    const { random } = this.options;
    const mine = this.orders.get(user)!;
    // Finished, retired orders leave the working set (the ledger keeps their intents).
    for (let i = mine.length - 1; i >= 0; i--) if (mine[i]!.retired && !mine[i]!.busy) mine.splice(i, 1);
    const open = mine.filter((order) => !order.busy && !order.retired);
    if (open.length === 0 || (mine.length < this.options.openOrdersPerUser && random() < 0.3)) return this.create(user);

    const order = open[Math.floor(random() * open.length)]!;
    order.busy = true;
    try {
      if (random() < this.options.invalidShare) return await this.invalid(order);
      const roll = random();
      switch (order.status) {
        case 'CREATED':
          if (roll < 0.55) return await this.add(order);
          if (roll < 0.92) return await this.send(order, 'confirmOrder', user, {});
          return await this.send(order, 'cancelOrder', user, { reason: 'changed my mind' });
        case 'CONFIRMED':
          if (roll < 0.88) return await this.send(order, 'payOrder', user, { ref: `pay-${randomUUID().slice(0, 8)}` });
          return await this.send(order, 'cancelOrder', user, { reason: 'found it cheaper' });
        case 'PAID':
          if (roll < 0.9) return await this.send(order, 'shipOrder', 'ops', { tracking: `TRK-${randomUUID().slice(0, 8)}` });
          return await this.send(order, 'cancelOrder', user, { reason: 'too slow' });
        case 'SHIPPED':
          return await this.send(order, 'deliverOrder', 'ops', {});
        case 'DELIVERED':
        case 'CANCELLED':
          order.retired = true;
          return;
      }
    } finally {
      order.busy = false;
    }
  }

  private item(random: () => number, tag?: string): ItemInput {
    const { sku, unitPriceCents } = catalogue[Math.floor(random() * catalogue.length)]!;
    return { sku, name: tag ? `${sku} for ${tag}` : sku, quantity: 1 + Math.floor(random() * 3), unitPriceCents };
  }

  private async create(user: string): Promise<void> {
    const { random } = this.options;
    const id = randomUUID();
    const keyed = random() < this.options.keyedShare;
    // The intent id in the first item's name finds every stream a create made, whatever its id: a keyed
    // create lets the service pick the id, so a second effect would be a second stream.
    const first = this.item(random, `intent ${id}`);
    const items = [first, ...(random() < 0.5 ? [this.item(random)] : [])].filter((item, i, all) => all.findIndex((other) => other.sku === item.sku) === i);
    const orderId = keyed ? null : randomUUID();
    const input = { ...(orderId ? { orderId } : {}), currency: 'EUR', items };
    const order: ClientOrder = { id: orderId ?? '', owner: user, status: 'CREATED', busy: true, retired: false };
    const intent = this.newIntent(id, 'createOrder', user, user, orderId, keyed, { input }, items, false);
    await this.run(intent);
    order.busy = false;
    if (intent.status === 'acked') {
      order.id = intent.result!.orderId;
      this.orders.get(user)!.push(order);
    }
  }

  private async add(order: ClientOrder): Promise<void> {
    const item = this.item(this.options.random);
    await this.send(order, 'addOrderItem', order.owner, { item }, [item]);
  }

  /** A command the lifecycle forbids in the order's (believed) state. */
  private async invalid(order: ClientOrder): Promise<void> {
    const op: Op = order.status === 'CREATED' ? 'payOrder' : order.status === 'SHIPPED' ? 'cancelOrder' : 'deliverOrder';
    const caller = op === 'deliverOrder' ? 'ops' : order.owner;
    const variables = op === 'payOrder' ? { ref: 'too-early' } : op === 'cancelOrder' ? { reason: 'too late' } : {};
    await this.send(order, op, caller, variables, [], true);
  }

  private async send(order: ClientOrder, op: Op, caller: string, variables: Record<string, unknown>, items: ItemInput[] = [], invalid = false): Promise<void> {
    const keyed = this.options.random() < this.options.keyedShare;
    const intent = this.newIntent(randomUUID(), op, caller, order.owner, order.id, keyed, { orderId: order.id, ...variables }, items, invalid);
    await this.run(intent);
    if (intent.status === 'acked') order.status = statusAfter[op] ?? order.status;
    else if (intent.status === 'unknown') order.retired = true;
    else if (intent.status === 'rejected' && !invalid) {
      // A refusal the client did not expect (it knew the state): stop using this order; the checks say whether it was right.
      order.retired = true;
    }
  }

  private newIntent(id: string, op: Op, caller: string, owner: string, orderId: string | null, keyed: boolean, variables: Record<string, unknown>, items: ItemInput[], invalid: boolean): Intent {
    const key = keyed ? `k-${id}` : null;
    const intent: Intent = { id, op, caller, owner, orderId, key, variables: { ...variables, key }, invalid, items, attempts: [], status: 'pending', ackedCommandIds: [] };
    this.ledger.intents.push(intent);
    return intent;
  }

  private async run(intent: Intent): Promise<void> {
    const { options } = this;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      const abort = intent.key !== null && this.options.random() < options.abortShare;
      const result = await this.attempt(intent, abort ? 1 + this.options.random() * 30 : options.requestTimeoutMs, abort);
      if (result.outcome === 'acked' || result.outcome === 'rejected') {
        intent.status = result.outcome;
        return;
      }
      if (intent.key === null || Date.now() - started > options.retryBudgetMs || !this.running) {
        intent.status = 'unknown';
        return;
      }
      await sleep(Math.min(100 * 2 ** attempt, 2000) * (0.5 + this.options.random()));
    }
  }

  private async attempt(intent: Intent, timeoutMs: number, aborted: boolean): Promise<Attempt> {
    const correlationId = randomUUID();
    const sentAt = Date.now();
    const record = (fields: Omit<Attempt, 'correlationId' | 'sentAt' | 'ms' | 'fault'>): Attempt => {
      const attempt: Attempt = { correlationId, sentAt, ms: Date.now() - sentAt, fault: this.ledger.fault, ...fields, ...(aborted ? { aborted } : {}) };
      intent.attempts.push(attempt);
      return attempt;
    };
    let response: Response;
    let body: { data?: Record<string, CommandResult | null> | null; errors?: { message: string; extensions?: { code?: string } }[] };
    try {
      response = await fetch(`${this.options.url()}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.tokens.get(intent.caller)}`, 'x-correlation-id': correlationId },
        body: JSON.stringify({ query: mutations[intent.op], variables: intent.variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      body = (await response.json()) as typeof body;
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? ((error.cause as { code?: string }).code ?? error.cause.message) : '';
      return record({ outcome: 'network', code: error instanceof Error ? error.name : 'Error', message: `${error instanceof Error ? error.message : String(error)}${cause ? ` (${cause})` : ''}` });
    }
    const result = body.data?.[intent.op];
    if (result) {
      intent.result ??= result;
      if (!intent.ackedCommandIds.includes(result.commandId)) intent.ackedCommandIds.push(result.commandId);
      return record({ outcome: 'acked', http: response.status });
    }
    const error = body.errors?.[0];
    const code = error?.extensions?.code ?? `HTTP_${response.status}`;
    return record({ outcome: definitive.has(code) ? 'rejected' : 'error', code, message: error?.message ?? `HTTP ${response.status}`, http: response.status });
  }
}

const statusAfter: Partial<Record<Op, Status>> = {
  confirmOrder: 'CONFIRMED',
  payOrder: 'PAID',
  shipOrder: 'SHIPPED',
  deliverOrder: 'DELIVERED',
  cancelOrder: 'CANCELLED',
};
