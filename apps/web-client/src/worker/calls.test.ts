import { describe, expect, it } from 'vitest';
import { WorkerCalls } from './calls.ts';

describe('WorkerCalls', () => {
  it('answers each request by its id, keeps its context while it waits, and answers the rest on stop', async () => {
    const calls = new WorkerCalls<string, number>();
    const posted: number[] = [];
    const a = calls.call((id) => posted.push(id), 7);
    const b = calls.call((id) => posted.push(id), 8);
    expect(posted).toEqual([1, 2]);
    expect(calls.context(2)).toBe(8);
    calls.settle(2, 'second');
    calls.settle(2, 'again');
    expect(await b).toBe('second');
    expect(calls.context(2)).toBeUndefined();
    calls.settleAll('stopped');
    expect(await a).toBe('stopped');
  });

  it('forgets a request whose post threw', () => {
    const calls = new WorkerCalls<string>();
    expect(() =>
      calls.call(() => {
        throw new Error('no worker');
      }, undefined),
    ).toThrow('no worker');
    expect(calls.context(1)).toBeUndefined();
  });
});
