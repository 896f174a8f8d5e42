import { EventEmitter } from 'node:events';
import type { Receipt, ReceiptStore } from '../../ports.js';

/**
 * The embedded twin: one process, so a Map and an emitter; copies in and out as Redis would. Keeps the
 * newest `limit` receipts where Redis expires them by age.
 */
export class MemoryReceipts implements ReceiptStore {
  constructor(private readonly limit = 10_000) {}

  private readonly receipts = new Map<string, Receipt>();
  private readonly changes = new EventEmitter().setMaxListeners(0);

  async record(receipt: Omit<Receipt, 'stages'>, stages: Receipt['stages']): Promise<void> {
    const current = this.receipts.get(receipt.commandId);
    this.receipts.delete(receipt.commandId);
    this.receipts.set(receipt.commandId, { ...receipt, stages: { ...stages, ...current?.stages } });
    if (this.receipts.size > this.limit) this.receipts.delete(this.receipts.keys().next().value!);
    setImmediate(() => this.changes.emit(receipt.commandId));
  }

  async get(commandId: string): Promise<Receipt | null> {
    const receipt = this.receipts.get(commandId);
    return receipt ? structuredClone(receipt) : null;
  }

  async watch(commandId: string, onChange: () => void): Promise<() => Promise<void>> {
    this.changes.on(commandId, onChange);
    return async () => void this.changes.off(commandId, onChange);
  }

  async close(): Promise<void> {
    this.changes.removeAllListeners();
  }
}
