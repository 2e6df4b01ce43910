import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveTaskInput } from '../task-file.ts';
import { code, v, weightSpec } from '../testing/store-backends.ts';
import { SqliteStore } from './sqlite.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A SQLite store holding task `id`, whose stored spec `edit` then rewrites as an older (or broken) coordinator would have left it. */
async function storeWith(id: string, edit: (spec: Record<string, unknown>) => void): Promise<SqliteStore> {
  const dir = mkdtempSync(join(tmpdir(), 'pollen-stored-spec-'));
  dirs.push(dir);
  const store = new SqliteStore(dir);
  const spec = await resolveTaskInput({ id, model: { kind: 'mlp', hidden: [8] } });
  await store.createTask(spec, weightSpec, v(0, 0, 0, 0), null);
  await store.close();
  const db = new Database(join(dir, 'pollen.sqlite'));
  const row = db.prepare('SELECT spec FROM tasks WHERE id = ?').get(id) as { spec: string };
  const stored = JSON.parse(row.spec) as Record<string, unknown>;
  edit(stored);
  db.prepare('UPDATE tasks SET spec = ? WHERE id = ?').run(JSON.stringify(stored), id);
  db.close();
  return new SqliteStore(dir);
}

describe('stored task specs, read back through the task schema', () => {
  it('open a store written before compression, strategies, privacy and overlapping rounds, with their defaults', async () => {
    const store = await storeWith('older', (spec) => {
      for (const key of ['compression', 'strategy', 'privacy', 'codec', 'maxUpdateNorm']) delete spec[key];
      const rounds = spec.rounds as Record<string, unknown>;
      for (const key of ['mode', 'maxInFlight', 'bufferSize', 'concurrency']) delete rounds[key];
    });
    const task = (await store.getTask('older'))!;
    expect(task.spec.compression).toMatchObject({ kind: 'none', bits: 32, errorFeedback: false });
    expect(task.spec.strategy.name).toBe('fedavg');
    expect(task.spec.privacy).toEqual({ mode: 'off' });
    expect(task.spec.codec).toBe('f32');
    expect(task.spec.maxUpdateNorm).toBe(1000);
    expect(task.spec.rounds).toMatchObject({ mode: 'sync', maxInFlight: 1 });
    expect((await store.listTasks()).map((t) => t.spec.compression.kind)).toEqual(['none']);
    await store.close();
  });

  it('refuse a stored spec that no longer validates with INVALID_TASK, naming the task and the field', async () => {
    const store = await storeWith('broken', (spec) => {
      (spec.rounds as Record<string, unknown>).cohortSize = 0;
    });
    expect(await code(store.getTask('broken'))).toBe('INVALID_TASK');
    await expect(store.listTasks()).rejects.toThrow(
      /stored task "broken" does not validate: .*rounds\.cohortSize/,
    );
    await store.close();
  });
});
