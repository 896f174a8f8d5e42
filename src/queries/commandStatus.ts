import { Repeater } from '@repeaterjs/repeater';
import { NotFoundError } from '../domain/errors.js';
import { type Caller, isAdmin } from '../domain/order/index.js';
import { type CommandStage, commandStages, type ReceiptStore } from '../ports.js';

export interface CommandReceipt {
  commandId: string;
  orderId: string;
  version: number;
  stage: CommandStage;
  at: string;
}

/**
 * Each stage of a command as it is reached, in order (ACCEPTED, APPENDED, PUBLISHED, PROJECTED), then
 * completes. Stages already reached come at once with the time they were reached. Only the caller who
 * issued the command, or an admin, may follow it; anyone else gets NOT_FOUND.
 */
export async function commandStatus(receipts: ReceiptStore, caller: Caller, commandId: string): Promise<AsyncIterable<CommandReceipt>> {
  const first = await receipts.get(commandId);
  if (!first || (first.userId !== caller.userId && !isAdmin(caller))) throw new NotFoundError(`command ${commandId} not found`);

  return new Repeater<CommandReceipt>(async (push, stop) => {
    let wake: (() => void) | null = null;
    let changed = true;
    const unwatch = await receipts.watch(commandId, () => {
      changed = true;
      wake?.();
    });
    let next = 0;
    let stopped = false;
    void stop.then(() => {
      stopped = true;
      wake?.();
    });
    try {
      while (!stopped && next < commandStages.length) {
        if (!changed) await new Promise<void>((resolve) => (wake = resolve));
        changed = false;
        const receipt = await receipts.get(commandId);
        while (receipt && next < commandStages.length && receipt.stages[commandStages[next]!]) {
          const stage = commandStages[next++]!;
          await push({ commandId, orderId: receipt.orderId, version: receipt.version, stage, at: receipt.stages[stage]! });
        }
      }
      stop();
    } finally {
      await unwatch();
    }
  });
}
