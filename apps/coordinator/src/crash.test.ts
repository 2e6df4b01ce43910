import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from './store/sqlite.ts';
import { NodeContributor, removeDir, waitFor } from './testing/harness.ts';
import { launchCoordinator, tinyTaskDir } from './testing/process.ts';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

describe('a coordinator killed mid-round', () => {
  it('loses no committed round and applies the interrupted one never', async () => {
    const { dataDir, taskFile } = tinyTaskDir('pollen-crash-', {
      cohortSize: 1,
      minReports: 1,
      minClients: 1,
      overSelection: 1,
      deadlineMs: 60_000,
    });
    dirs.push(dataDir);
    const first = await launchCoordinator(dataDir, taskFile);
    let rounds = 0;
    // Answer two rounds, then stay silent in the third so it is open when the process dies.
    const client = new NodeContributor(first.url, 'client-crash', (global) => {
      rounds++;
      return rounds <= 2 ? new Float32Array(global.length).fill(0.01) : null;
    });
    await client.hello();
    await waitFor(() => rounds >= 3, 30_000);
    await first.kill();
    client.close();

    const store = new SqliteStore(dataDir);
    expect((await store.listVersions('tiny')).map((v) => v.version)).toEqual([0, 1, 2]);
    expect((await store.listRounds('tiny')).map((r) => r.status)).toEqual(['committed', 'committed', 'open']);
    await store.close();

    const second = await launchCoordinator(dataDir, taskFile);
    const after = new SqliteStore(dataDir);
    expect((await after.listRounds('tiny')).map((r) => r.status)).toEqual([
      'committed',
      'committed',
      'abandoned',
    ]);
    expect((await after.getTask('tiny'))!.currentVersion).toBe(2);
    expect(await after.listVersions('tiny')).toHaveLength(3);
    await after.close();
    await second.kill();
  });
});
