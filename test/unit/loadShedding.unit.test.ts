import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { LoadShedder, type Pressure } from '../../src/loadShedding.js';

/** Just what the shedder uses of a response: its status, its headers, its body and its close event. */
function response() {
  const res = Object.assign(new EventEmitter(), {
    status: 0,
    headers: {} as Record<string, string>,
    body: '',
    writeHead(status: number, headers: Record<string, string>) {
      res.status = status;
      res.headers = headers;
      return res;
    },
    end(body: string) {
      res.body = body;
      return res;
    },
  });
  return res;
}

describe('the load shedder in front of GraphQL', () => {
  it('refuses before parsing once the requests it let through reach what a saturated admission can hold', () => {
    const limit = 3;
    const pressure: Pressure = { probability: () => 0, saturated: (outstanding) => outstanding >= limit };
    const shedder = new LoadShedder(0, undefined, pressure);
    const through = Array.from({ length: limit }, () => response());
    for (const res of through) expect(shedder.guard(res as unknown as ServerResponse)).toBe(false);

    const refused = response();
    expect(shedder.guard(refused as unknown as ServerResponse)).toBe(true);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body).errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');

    through[0]!.emit('close'); // one answered: room for one more
    expect(shedder.guard(response() as unknown as ServerResponse)).toBe(false);
    expect(shedder.guard(response() as unknown as ServerResponse)).toBe(true);
    shedder.stop();
  });

  it('lets everything through when the admission is neither saturated nor refusing', () => {
    const shedder = new LoadShedder(0, undefined, { probability: () => 0, saturated: () => false });
    for (let i = 0; i < 1000; i++) expect(shedder.guard(response() as unknown as ServerResponse)).toBe(false);
    shedder.stop();
  });
});
