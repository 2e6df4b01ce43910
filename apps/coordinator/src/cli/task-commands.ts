import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PollenError } from '@pollen/fl-core';
import { modelFromArtifacts } from '@pollen/ml/artifacts';
import { dataFormatOf } from '@pollen/ml/data';
import { readModelArtifacts } from '../model/read-artifacts.ts';
import { MAX_HELD_OUT_BYTES } from '../routes/held-out.ts';
import { readTaskFile } from '../task-file.ts';
import { type Body, CliError, type Coordinator, EXIT } from './http.ts';

/** Local checks throw PollenError: a file the coordinator would refuse is refused here first. */
function local<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PollenError) throw new CliError(EXIT.refused, `${err.code}: ${err.message}`);
    throw err;
  }
}

/** The request that creates a task from a task file: JSON, or multipart when it names a model.json. */
function createRequest(specPath: string): { body: Body; type?: string } {
  const spec = local(() => readTaskFile(specPath));
  const model = (spec as { model?: unknown }).model;
  if (model === null || typeof model !== 'object' || !('path' in model)) {
    return { body: JSON.stringify(spec), type: 'application/json' };
  }
  const modelPath = resolve(dirname(specPath), String((model as { path: unknown }).path));
  const { json, files } = local(() => readModelArtifacts(modelPath));
  local(() => modelFromArtifacts(json, files));
  const { model: _path, ...task } = spec as Record<string, unknown>;
  const form = new FormData();
  form.append('task', JSON.stringify(task));
  form.append('model.json', new Blob([JSON.stringify(json)], { type: 'application/json' }), 'model.json');
  for (const [name, bytes] of files) form.append(name, new Blob([bytes]), name);
  // fetch sets the multipart content type with its boundary.
  return { body: form };
}

/** Upload a held-out CSV or JSON-lines file; returns how many examples the coordinator kept. */
export async function uploadHeldOut(api: Coordinator, taskId: string, path: string): Promise<number> {
  const format = local(() => dataFormatOf(path));
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new CliError(EXIT.usage, `cannot read ${path}: ${(err as Error).message}`);
  }
  if (size > MAX_HELD_OUT_BYTES) {
    throw new CliError(
      EXIT.refused,
      `${path} holds ${size} bytes, more than the ${MAX_HELD_OUT_BYTES} a task takes`,
    );
  }
  const type = format === 'csv' ? 'text/csv' : 'application/x-ndjson';
  const reply = await api.json<{ count: number }>(
    'PUT',
    `/api/tasks/${encodeURIComponent(taskId)}/held-out`,
    readFileSync(path, 'utf8'),
    type,
  );
  return reply.count;
}

/** `pollen task create --spec FILE [--held-out FILE]` */
export async function createTask(
  api: Coordinator,
  specPath: string,
  heldOutPath: string | undefined,
  out: (line: string) => void,
): Promise<void> {
  const { body, type } = createRequest(specPath);
  const task = await api.json<{ id: string; currentVersion: number }>('POST', '/api/tasks', body, type);
  out(`created task ${task.id} (version ${task.currentVersion})`);
  if (heldOutPath === undefined) return;
  try {
    const count = await uploadHeldOut(api, task.id, heldOutPath);
    out(`held-out data: ${count} examples from ${heldOutPath}`);
  } catch (err) {
    if (err instanceof CliError) {
      throw new CliError(
        err.exitCode,
        `task ${task.id} was created, its held-out data was not: ${err.message}`,
      );
    }
    throw err;
  }
}

interface TaskSummary {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly currentVersion: number;
  readonly population?: { readonly total?: number };
}

/** `pollen task list [--json]` */
export async function listTasks(
  api: Coordinator,
  asJson: boolean,
  out: (line: string) => void,
): Promise<void> {
  const tasks = await api.json<TaskSummary[]>('GET', '/api/tasks');
  if (asJson) {
    out(JSON.stringify(tasks, null, 2));
    return;
  }
  const rows = [
    ['ID', 'STATUS', 'VERSION', 'CLIENTS', 'NAME'],
    ...tasks.map((t) => [t.id, t.status, String(t.currentVersion), String(t.population?.total ?? 0), t.name]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    out(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

/**
 * `pollen task export ID --out DIR [--version N]`: model.json and weights.bin as tfjs' file
 * handlers read them (the manifest's path is the file next to model.json).
 */
export async function exportTask(
  api: Coordinator,
  taskId: string,
  outDir: string,
  version: number | undefined,
  out: (line: string) => void,
): Promise<void> {
  const base = `/api/tasks/${encodeURIComponent(taskId)}/model`;
  const query = version === undefined ? '' : `?version=${version}`;
  const json = await api.json<
    Record<string, unknown> & { weightsManifest: { paths: string[]; weights: unknown[] }[] }
  >('GET', `${base}${query}`);
  const exported = (json.userDefinedMetadata as { version?: number } | undefined)?.version;
  // The weights of exactly the version model.json describes, even if a round commits meanwhile.
  const res = await api.request('GET', `${base}/weights.bin?version=${exported ?? version ?? ''}`);
  const weights = new Uint8Array(await res.arrayBuffer());
  const manifest = json.weightsManifest.map((g) => ({ ...g, paths: ['weights.bin'] }));
  const model = { ...json, weightsManifest: manifest };
  local(() => modelFromArtifacts(model, new Map([['weights.bin', weights]])));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'model.json'), `${JSON.stringify(model, null, 2)}\n`);
  writeFileSync(join(outDir, 'weights.bin'), weights);
  out(
    `exported task ${taskId} version ${exported ?? '?'} to ${outDir} (model.json, weights.bin: ${weights.byteLength} bytes)`,
  );
}
