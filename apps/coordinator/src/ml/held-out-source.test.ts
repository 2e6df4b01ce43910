import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeExampleSet } from '@pollen/ml';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.ts';
import { resolveTaskInput } from '../task-file.ts';
import { removeDir } from '../testing/harness.ts';
import { REGRESSION_TASK } from '../testing/saved-model.ts';
import { BUILTIN_MNIST_KEY, HeldOutSource } from './held-out-source.ts';

const dir = mkdtempSync(join(tmpdir(), 'pollen-held-out-'));
const store = new SqliteStore(dir);
afterAll(async () => {
  await store.close();
  removeDir(dir);
});

describe('held-out examples from the store', () => {
  it('prefers an upload, caches it by digest, and sees an upload made through another node', async () => {
    const spec = await resolveTaskInput({
      id: 'houses',
      model: { kind: 'mlp', hidden: [2] },
      ...REGRESSION_TASK,
    });
    const digits = await resolveTaskInput({ id: 'digits', model: { kind: 'mlp', hidden: [2] } });
    await store.createTask(spec, [], new Float32Array(0), null);
    const source = new HeldOutSource(store);
    expect(await source.lookup(spec)).toBeNull();
    expect((await source.lookup(digits))!.key).toBe(BUILTIN_MNIST_KEY);

    const set = (y: number) => ({ count: 1, x: Float32Array.from([1, 2, 3]), y: Float32Array.from([y]) });
    await store.putHeldOut('houses', 1, encodeExampleSet(spec, set(4)));
    const first = (await source.lookup(spec))!;
    expect(first.examples().y).toEqual(Float32Array.from([4]));
    // Cached: the same decoded set while the digest stays.
    expect((await source.lookup(spec))!.examples()).toBe(first.examples());

    // Another coordinator of the cluster replaces it: no invalidate here, the digest tells.
    await store.putHeldOut('houses', 1, encodeExampleSet(spec, set(9)));
    const second = (await source.lookup(spec))!;
    expect(second.key).not.toBe(first.key);
    expect(second.examples().y).toEqual(Float32Array.from([9]));

    await store.deleteHeldOut('houses');
    expect(await source.lookup(spec)).toBeNull();
  });
});
