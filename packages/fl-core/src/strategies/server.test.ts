import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PollenError } from '../errors.ts';
import { validateStrategyConfig } from './config.ts';
import { scaffoldServerUpdate } from './scaffold.ts';
import { CONTROL_STATE_KEY, createServerStrategy } from './server.ts';

const x = Float32Array.of(1, 2);
const delta = Float32Array.of(0.5, -1);

describe('createServerStrategy', () => {
  it('is the configured optimizer without SCAFFOLD (FedAvgM known answer)', () => {
    const server = createServerStrategy(validateStrategyConfig({ name: 'fedavgm', momentum: 0.5 }), 2);
    expect(server.control()).toBeNull();
    // m1 = Delta, x1 = x + m1; m2 = 0.5 m1 + Delta, x2 = x1 + m2.
    const x1 = server.apply(x, delta);
    expect(Array.from(x1)).toEqual([1.5, 1]);
    expect(Array.from(server.apply(x1, delta))).toEqual([2.25, -0.5]);
    expect(() => server.apply(x, delta, { meanDelta: delta, fraction: 1 })).toThrow(/SCAFFOLD is off/);
  });

  it('follows the server learning-rate schedule: step t uses lrAt(serverLr, schedule, t)', () => {
    const server = createServerStrategy(
      validateStrategyConfig({ serverLr: 1, serverSchedule: { kind: 'exponential', decay: 0.5 } }),
      2,
    );
    // t = 0: lr 1; t = 1: lr 0.5; t = 2: lr 0.25.
    const x1 = server.apply(x, delta);
    expect(Array.from(x1)).toEqual([1.5, 1]);
    const x2 = server.apply(x1, delta);
    expect(Array.from(x2)).toEqual([1.75, 0.5]);
    expect(Array.from(server.apply(x2, delta))).toEqual([1.875, 0.25]);
    // Restored to an earlier snapshot, it resumes the schedule from that round.
    const again = createServerStrategy(server.config, 2);
    again.restore({ rounds: 1 });
    expect(Array.from(again.apply(x1, delta))).toEqual([1.75, 0.5]);
  });

  it("with SCAFFOLD and FedAvg matches scaffoldServerUpdate's x and c (Algorithm 1)", () => {
    const server = createServerStrategy(validateStrategyConfig({ scaffold: true, serverLr: 2 }), 2);
    expect(Array.from(server.control()!)).toEqual([0, 0]);
    const step = { meanDelta: Float32Array.of(2, -4), fraction: 0.25 };
    const expected = scaffoldServerUpdate({
      x,
      c: new Float32Array(2),
      meanDeltaY: delta,
      meanDeltaC: step.meanDelta,
      globalLr: 2,
      fraction: 0.25,
    });
    expect(Array.from(server.apply(x, delta, step))).toEqual(Array.from(expected.x));
    expect(Array.from(server.control()!)).toEqual(Array.from(expected.c));
    expect(() => server.apply(x, delta)).toThrow(/needs the mean Delta c_i/);
  });

  it('changes nothing when a step or a restore is refused', () => {
    const server = createServerStrategy(validateStrategyConfig({ name: 'fedadam', scaffold: true }), 2);
    server.apply(x, delta, { meanDelta: Float32Array.of(1, 1), fraction: 0.5 });
    const before = server.state();
    expect(() =>
      server.apply(x, Float32Array.of(Number.NaN, 0), { meanDelta: Float32Array.of(1, 1), fraction: 0.5 }),
    ).toThrow(PollenError);
    expect(() => server.apply(x, delta, { meanDelta: Float32Array.of(1, 1), fraction: 2 })).toThrow(
      /fraction/,
    );
    expect(() => server.restore({ ...before, [CONTROL_STATE_KEY]: new Float32Array(3) })).toThrow(
      /scaffold.c/,
    );
    expect(() => server.restore({ ...before, v: Float32Array.of(-1, 1) })).toThrow(/"v"/);
    expect(server.state()).toEqual(before);
  });

  it('restores from its own snapshot to the same trajectory (property)', () => {
    const config = validateStrategyConfig({ name: 'fedyogi', scaffold: true, serverLr: 0.1 });
    const value = fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true });
    const vec = fc.array(value, { minLength: 3, maxLength: 3 }).map((a) => Float32Array.from(a));
    fc.assert(
      fc.property(fc.array(fc.tuple(vec, vec), { minLength: 2, maxLength: 5 }), (steps) => {
        const a = createServerStrategy(config, 3);
        let wa: Float32Array = new Float32Array(3);
        const [first, ...rest] = steps;
        wa = a.apply(wa, first![0], { meanDelta: first![1], fraction: 0.1 });
        const b = createServerStrategy(config, 3);
        b.restore(a.state());
        let wb: Float32Array = wa.slice();
        for (const [d, dc] of rest) {
          wa = a.apply(wa, d, { meanDelta: dc, fraction: 0.1 });
          wb = b.apply(wb, d, { meanDelta: dc, fraction: 0.1 });
        }
        expect(Array.from(wb)).toEqual(Array.from(wa));
        expect(b.state()).toEqual(a.state());
      }),
    );
  });
});
