import { describe, expect, it } from 'vitest';
import { serialized } from '../../src/commands/streamQueue.js';
import type { EventStore } from '../../src/ports.js';

const store = () => ({}) as EventStore;
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('when tasks for one stream arrive together', () => {
  it('runs them one after another, in arrival order', async () => {
    const on = store();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      return name;
    };

    const results = await Promise.all(['a', 'b', 'c'].map((name) => serialized(on, 'order-1', task(name))));

    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('goes on with the next one when a task fails, and hands the failure to its caller', async () => {
    const on = store();
    const failing = serialized(on, 'order-1', async () => {
      throw new Error('refused');
    });
    const next = serialized(on, 'order-1', async () => 'done');

    await expect(failing).rejects.toThrow('refused');
    await expect(next).resolves.toBe('done');
  });
});

describe('when tasks are for different streams or stores', () => {
  it('runs them at the same time', async () => {
    const [one, two] = [store(), store()];
    let running = 0;
    let most = 0;
    const task = async () => {
      most = Math.max(most, ++running);
      await tick();
      running--;
    };

    await Promise.all([serialized(one, 'order-1', task), serialized(one, 'order-2', task), serialized(two, 'order-1', task)]);

    expect(most).toBe(3);
  });
});
