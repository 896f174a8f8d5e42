import { Repeater } from '@repeaterjs/repeater';
import { NotFoundError } from '../domain/errors.js';
import { type Caller, isAdmin } from '../domain/order/index.js';
import { type CommandStage, commandStages, type ReceiptStore } from '../ports.js';
import { wakeUps } from './wakeUps.js';

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
    const changes = wakeUps((wake) => receipts.watch(commandId, wake), stop);
    let next = 0;
    try {
      for await (const _ of changes) {
        const receipt = await receipts.get(commandId);
        while (receipt && next < commandStages.length && receipt.stages[commandStages[next]!]) {
          const stage = commandStages[next++]!;
          await push({ commandId, orderId: receipt.orderId, version: receipt.version, stage, at: receipt.stages[stage]! });
        }
        if (next === commandStages.length) break;
      }
      stop();
    } finally {
      await changes.return();
    }
  });
}
