import { describe, expect, it } from 'vitest';
import { createAdaptive } from './adaptive.ts';
import { validateStrategyConfig } from './config.ts';
import { createStrategy } from './create.ts';
import { createFedAvgM } from './server-sgd.ts';
import { STRATEGY_NAMES } from './strategy.ts';

describe('createStrategy', () => {
  it('builds every named strategy from its default config', () => {
    for (const name of STRATEGY_NAMES) {
      const s = createStrategy(validateStrategyConfig({ name }), 3);
      expect(s.name).toBe(name);
      expect(s.dimension).toBe(3);
      expect(s.state().rounds).toBe(0);
    }
  });

  it('passes the configured hyper-parameters through', () => {
    const x = Float32Array.of(0.5, -0.5);
    const deltas = [Float32Array.of(0.1, 0.2), Float32Array.of(-0.3, 0.05)];
    const pairs = [
      [
        createStrategy(validateStrategyConfig({ name: 'fedavgm', serverLr: 0.5, momentum: 0.3 }), 2),
        createFedAvgM(2, { serverLr: 0.5, momentum: 0.3 }),
      ],
      [
        createStrategy(
          validateStrategyConfig({ name: 'fedyogi', serverLr: 0.2, beta1: 0.1, beta2: 0.5, tau: 0.1 }),
          2,
        ),
        createAdaptive('fedyogi', 2, { serverLr: 0.2, beta1: 0.1, beta2: 0.5, tau: 0.1 }),
      ],
      [
        createStrategy(validateStrategyConfig({ name: 'fedadagrad', beta1: 0.2, tau: 0.1 }), 2),
        createAdaptive('fedadagrad', 2, { beta1: 0.2, tau: 0.1 }),
      ],
    ] as const;
    for (const [fromConfig, direct] of pairs) {
      let a: Float32Array = x;
      let b: Float32Array = x;
      for (const d of deltas) {
        a = fromConfig.apply(a, d);
        b = direct.apply(b, d);
      }
      expect(Array.from(a)).toEqual(Array.from(b));
    }
  });
});
