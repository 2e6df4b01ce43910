import { describe, expect, it } from 'vitest';
import { PollenError } from './errors.ts';
import { validateTaskSpec } from './task.ts';

const valid = {
  id: 'mnist',
  name: 'Digits',
  model: { topology: { class_name: 'Sequential', config: {} } },
  input: { shape: [784], dtype: 'uint8', scale: 1 / 255 },
  target: { kind: 'class', numClasses: 10 },
  data: { builtin: 'mnist', partition: { kind: 'dirichlet', alpha: 0.5 }, numShards: 100 },
  training: { epochs: 1, batchSize: 32, learningRate: 0.1 },
  rounds: { cohortSize: 10, minReports: 5, deadlineMs: 30_000 },
};

function codeOf(input: unknown): string {
  try {
    validateTaskSpec(input);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(PollenError);
    return `${(err as PollenError).code}: ${(err as Error).message}`;
  }
}

describe('task spec validation', () => {
  it('fills defaults for a valid task', () => {
    const spec = validateTaskSpec(valid);
    expect(spec.rounds.overSelection).toBe(1.3);
    expect(spec.rounds.minClients).toBe(5);
    expect(spec.training.optimizer).toBe('sgd');
    expect(spec.codec).toBe('f32');
  });

  it.each([
    ['not an object', null, /"task" expected object/],
    ['an unknown field', { ...valid, colour: 'blue' }, /"colour" expected no such field/],
    ['bad id', { ...valid, id: 'Bad Id!' }, /"id"/],
    [
      'NaN learning rate',
      { ...valid, training: { ...valid.training, learningRate: Number.NaN } },
      /learningRate/,
    ],
    ['negative epochs', { ...valid, training: { ...valid.training, epochs: -1 } }, /epochs/],
    ['quorum above cohort', { ...valid, rounds: { ...valid.rounds, minReports: 11 } }, /cannot exceed/],
    [
      'unknown partition',
      { ...valid, data: { ...valid.data, partition: { kind: 'zipf' } } },
      /"data.partition.kind" expected one of iid, dirichlet, shards, natural, got "zipf"/,
    ],
    [
      'zero alpha',
      { ...valid, data: { ...valid.data, partition: { kind: 'dirichlet', alpha: 0 } } },
      /"data.partition.alpha" expected finite number in \[0.001, 1000\], got 0/,
    ],
    ['unknown codec', { ...valid, codec: 'f8' }, /codec/],
    ['infinite norm bound', { ...valid, maxUpdateNorm: Number.POSITIVE_INFINITY }, /maxUpdateNorm/],
    ['a topology that is not an object', { ...valid, model: { topology: 'x' } }, /"model.topology"/],
  ])('refuses %s with INVALID_TASK', (_name, input, message) => {
    const result = codeOf(input);
    expect(result).toMatch(/^INVALID_TASK: /);
    expect(result).toMatch(message);
  });

  it('fills a FedAvg strategy by default and keeps a given one, checked', () => {
    expect(validateTaskSpec(valid).strategy).toMatchObject({ name: 'fedavg', serverLr: 1, mu: 0 });
    const spec = validateTaskSpec({ ...valid, strategy: { name: 'fedadam', serverLr: 0.02, mu: 0.1 } });
    expect(spec.strategy).toMatchObject({ name: 'fedadam', serverLr: 0.02, beta1: 0.9, mu: 0.1 });
    // A validated spec is valid input: stored tasks and operator edits go through validation again.
    expect(validateTaskSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
  });

  it.each([
    ['an unknown strategy', { name: 'fedsgd' }, /"strategy.name"/],
    ['a negative mu', { mu: -0.01 }, /"strategy.mu" expected non-negative/],
    ['a trimmed-mean beta of 0.5', { robust: { kind: 'trimmed-mean', beta: 0.5 } }, /"strategy.robust.beta"/],
    ['Krum with a quorum below 2f + 3', { robust: { kind: 'krum', f: 2 } }, /rounds.minReports is 5/],
    ['SCAFFOLD with robust aggregation', { scaffold: true, robust: { kind: 'median' } }, /SCAFFOLD/],
  ])('refuses %s with INVALID_TASK', (_name, strategy, message) => {
    const result = codeOf({ ...valid, strategy });
    expect(result).toMatch(/^INVALID_TASK: /);
    expect(result).toMatch(message);
  });

  it('refuses SCAFFOLD with a local Adam optimizer', () => {
    expect(
      codeOf({ ...valid, training: { ...valid.training, optimizer: 'adam' }, strategy: { scaffold: true } }),
    ).toMatch(/^INVALID_TASK: .*"sgd"/);
  });
  it('refuses evaluation rounds where per-device metrics would escape differential privacy, or secure ones of too few devices', () => {
    const evaluation = {
      heldOutFraction: 0.2,
      federated: { every: 1, cohortSize: 5, minReports: 2, deadlineMs: 10_000 },
    };
    expect(validateTaskSpec({ ...valid, evaluation }).evaluation).toEqual(evaluation);
    expect(codeOf({ ...valid, evaluation, secureAggregation: {} })).toMatch(
      /^INVALID_TASK: "evaluation.federated.minReports" expected at least 3 under secure aggregation/,
    );
    const three = { ...evaluation, federated: { ...evaluation.federated, minReports: 3 } };
    expect(codeOf({ ...valid, evaluation: three, secureAggregation: {} })).toBe('ok');
    const privacy = { mode: 'distributed', noiseMultiplier: 1, clipNorm: 0.5, delta: 1e-5, epsilonBudget: 8 };
    expect(codeOf({ ...valid, evaluation, privacy })).toMatch(
      /^INVALID_TASK: "evaluation.federated" .*differential privacy/,
    );
    // Held-out reports in training rounds stay allowed: the coordinator asks for none there.
    expect(codeOf({ ...valid, evaluation: { heldOutFraction: 0.2 }, privacy })).toBe('ok');
  });

  describe('privacy', () => {
    const distributed = {
      mode: 'distributed',
      noiseMultiplier: 1,
      clipNorm: 0.5,
      delta: 1e-5,
      epsilonBudget: 8,
    };

    it('is off unless asked for, and a given block is kept, normalized and re-validatable', () => {
      expect(validateTaskSpec(valid).privacy).toEqual({ mode: 'off' });
      const spec = validateTaskSpec({ ...valid, privacy: { ...distributed, epsilonPerReport: 3 } });
      expect(spec.privacy).toEqual(distributed);
      expect(validateTaskSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
      const local = { mode: 'local', clipNorm: 1, epsilonPerReport: 2, delta: 1e-6, epsilonBudget: 10 };
      expect(
        validateTaskSpec({ ...valid, privacy: local, strategy: { robust: { kind: 'median' } } }).privacy,
      ).toEqual(local);
    });

    it.each([
      ['a negative z', { ...distributed, noiseMultiplier: -1 }, /"privacy.noiseMultiplier"/],
      ['a NaN z', { ...distributed, noiseMultiplier: Number.NaN }, /"privacy.noiseMultiplier"/],
      ['delta of 1', { ...distributed, delta: 1 }, /"privacy.delta"/],
      ['delta above 1', { ...distributed, delta: 2 }, /"privacy.delta"/],
      ['a zero budget', { ...distributed, epsilonBudget: 0 }, /"privacy.epsilonBudget"/],
      ['a negative budget', { ...distributed, epsilonBudget: -3 }, /"privacy.epsilonBudget"/],
      ['a NaN clip norm', { ...distributed, clipNorm: Number.NaN }, /"privacy.clipNorm"/],
      ['an unknown mode', { ...distributed, mode: 'central' }, /"privacy.mode"/],
      ['no clip norm', { ...distributed, clipNorm: undefined }, /clipNorm/],
      ['a block that is not an object', 'on', /"privacy" expected object/],
    ])('refuses %s with INVALID_TASK', (_name, privacy, message) => {
      const result = codeOf({ ...valid, privacy });
      expect(result).toMatch(/^INVALID_TASK: /);
      expect(result).toMatch(message);
    });

    it('refuses strategies that would break the guarantee', () => {
      expect(codeOf({ ...valid, privacy: distributed, strategy: { scaffold: true } })).toMatch(
        /^INVALID_TASK: SCAFFOLD/,
      );
      expect(
        codeOf({ ...valid, privacy: distributed, strategy: { robust: { kind: 'trimmed-mean', beta: 0.1 } } }),
      ).toMatch(/^INVALID_TASK: distributed noise/);
    });
  });
});

describe('heterogeneous devices in the task', () => {
  const cnn = { ...valid, data: undefined, input: { shape: [28, 28, 1], dtype: 'uint8', scale: 1 / 255 } };

  it('takes a time budget, a CPU share, a schedule, augmentation and eligibility conditions', () => {
    const spec = validateTaskSpec({
      ...cnn,
      training: {
        epochs: 5,
        batchSize: 32,
        learningRate: 0.1,
        timeBudgetMs: 2000,
        cpuShare: 0.5,
        schedule: { kind: 'exponential', decay: 0.99 },
        augmentation: { rotationDeg: 10, translate: 0.1 },
      },
      eligibility: { charging: true, unmetered: true, whenUnsupported: { battery: 'deny' } },
    });
    expect(spec.training).toMatchObject({
      timeBudgetMs: 2000,
      cpuShare: 0.5,
      schedule: { kind: 'exponential', decay: 0.99 },
      augmentation: { rotationDeg: 10, translate: 0.1, seed: 0 },
    });
    expect(spec.eligibility).toEqual({
      charging: true,
      minBatteryLevel: 0,
      unmetered: true,
      idleSeconds: 0,
      whenUnsupported: { battery: 'deny', network: 'allow', idle: 'allow' },
    });
    // A checked spec validates again to itself (stored tasks are validated on load).
    expect(validateTaskSpec(spec)).toEqual(spec);
    expect(validateTaskSpec(valid).eligibility).toBeUndefined();
  });

  it('refuses each bad field with INVALID_TASK naming it', () => {
    const training = { epochs: 1, batchSize: 32, learningRate: 0.1 };
    expect(codeOf({ ...cnn, training: { ...training, timeBudgetMs: 50 } })).toMatch(
      /^INVALID_TASK: "training.timeBudgetMs"/,
    );
    expect(codeOf({ ...cnn, training: { ...training, timeBudgetMs: 30_000 } })).toMatch(
      /"training.timeBudgetMs" \(30000\) must be below "rounds.deadlineMs"/,
    );
    expect(codeOf({ ...cnn, training: { ...training, cpuShare: 0 } })).toMatch(/"training.cpuShare"/);
    expect(codeOf({ ...cnn, training: { ...training, cpuShare: 1.5 } })).toMatch(/"training.cpuShare"/);
    expect(codeOf({ ...cnn, training: { ...training, schedule: { kind: 'cosine', rounds: 0 } } })).toMatch(
      /"training.schedule.rounds"/,
    );
    expect(codeOf({ ...cnn, training: { ...training, augmentation: { rotationDeg: 270 } } })).toMatch(
      /"training.augmentation.rotationDeg"/,
    );
    expect(codeOf({ ...valid, training: { ...training, augmentation: { rotationDeg: 10 } } })).toMatch(
      /"training.augmentation" rotates and shifts images/,
    );
    expect(codeOf({ ...cnn, eligibility: { charging: 'yes' } })).toMatch(
      /^INVALID_TASK: "eligibility.charging"/,
    );
    expect(codeOf({ ...cnn, eligibility: { minBatteryLevel: 2 } })).toMatch(/"eligibility.minBatteryLevel"/);
    expect(codeOf({ ...cnn, eligibility: { whenUnsupported: { battery: 'maybe' } } })).toMatch(
      /"eligibility.whenUnsupported.battery"/,
    );
    expect(codeOf({ ...cnn, eligibility: { wifi: true } })).toMatch(/eligibility/);
  });

  it('refuses FedNova with differential privacy and in buffered mode', () => {
    expect(
      codeOf({
        ...cnn,
        strategy: { fednova: true },
        privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 1, delta: 1e-5, epsilonBudget: 10 },
      }),
    ).toMatch(/FedNova.*privacy.mode/);
    expect(
      codeOf({
        ...cnn,
        strategy: { fednova: true },
        rounds: { ...valid.rounds, mode: 'buffered', bufferSize: 5, concurrency: 10 },
      }),
    ).toMatch(/FedNova.*buffered/);
    expect(codeOf({ ...cnn, strategy: { fednova: true } })).toBe('ok');
  });
});
