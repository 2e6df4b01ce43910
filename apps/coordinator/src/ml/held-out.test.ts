import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeExampleSet } from '@pollen/ml';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveTaskInput } from '../task-file.ts';
import { removeDir } from '../testing/harness.ts';
import { heldOutFor, SIM_HELD_OUT_ENV } from './held-out.ts';

const dir = mkdtempSync(join(tmpdir(), 'pollen-held-out-'));
afterAll(() => removeDir(dir));
afterEach(() => {
  delete process.env[SIM_HELD_OUT_ENV];
});

const REGRESSION = {
  id: 'reg',
  model: { kind: 'mlp', hidden: [4] },
  input: { shape: [2], dtype: 'float32' },
  target: { kind: 'regression', shape: [1] },
  data: null,
};

describe('held-out data of a task', () => {
  it('reads "data": null as a task without the built-in digits, and keeps them otherwise', async () => {
    const spec = await resolveTaskInput(REGRESSION);
    expect(spec.data).toBeUndefined();
    // Its own target's default loss and metrics, not the digits'.
    expect(spec.loss).toBe('meanSquaredError');
    expect(spec.metrics).toEqual(['mse', 'mae']);
    expect((await resolveTaskInput({ id: 'digits' })).data).toMatchObject({ builtin: 'mnist' });
    // Without null the default's digits stay, and cannot fit two float features.
    const { data: _none, ...inheriting } = REGRESSION;
    await expect(resolveTaskInput(inheriting)).rejects.toMatchObject({
      code: 'INVALID_TASK',
      message: expect.stringMatching(/"data.builtin" mnist holds 28x28 uint8 digits/),
    });
  });

  it("has none for a task without built-in data, and a simulation's hand-over when it fits the task", async () => {
    const spec = await resolveTaskInput(REGRESSION);
    expect(heldOutFor(spec)).toBeNull();
    const examples = { count: 2, x: Float32Array.of(1, 2, 3, 4), y: Float32Array.of(0.5, -1) };
    const file = join(dir, 'held-out.plx');
    writeFileSync(file, encodeExampleSet(spec, examples));
    process.env[SIM_HELD_OUT_ENV] = file;
    expect(heldOutFor(spec)).toEqual(examples);
    // Another shape: the examples do not fit, so that task has no held-out data.
    const wider = await resolveTaskInput({ ...REGRESSION, input: { shape: [3], dtype: 'float32' } });
    expect(heldOutFor(wider)).toBeNull();
    // The built-in digits keep their own test split.
    expect(heldOutFor(await resolveTaskInput({ id: 'digits' }))?.count).toBe(2000);
  });
});
