import { Repeater } from '@repeaterjs/repeater';

/**
 * Samples `read` once a second and pushes what it returns when it differs from the last push: a
 * dashboard sees every change, at most once a second, and nothing while nothing changes.
 */
export function projectionStatusUpdates<T>(read: () => Promise<T>, everyMs = 1000): AsyncIterable<T> {
  return new Repeater<T>(async (push, stop) => {
    let last = '';
    const sample = async () => {
      const value = await read();
      const text = JSON.stringify(value);
      if (text !== last) {
        last = text;
        await push(value);
      }
    };
    await sample();
    const timer = setInterval(() => void sample().catch((error: unknown) => stop(error)), everyMs);
    await stop;
    clearInterval(timer);
  });
}
