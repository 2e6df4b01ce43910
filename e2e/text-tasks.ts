import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser } from '@playwright/test';
import { openContributor } from './contributors.ts';
import {
  type ApiRound,
  api,
  evaluatedRounds,
  type RunningCoordinator,
  untilCompleted,
} from './coordinator.ts';

const TASKS_DIR = resolve(import.meta.dirname, '../apps/coordinator/tasks');

/** A built-in task file (apps/coordinator/tasks/NAME.json), as `--task NAME` reads it. */
export function builtinTaskFile(name: 'next-char' | 'next-char-finetune' | 'spam'): Record<string, unknown> {
  return JSON.parse(readFileSync(resolve(TASKS_DIR, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

/**
 * The rounds block of a spec's run: `tabs` tabs in every round, `rounds` rounds. A round waits for
 * every tab until its deadline and commits with all but one: on a loaded machine one slow tab
 * makes a round late, never a failed round to run again.
 */
export function specRounds(tabs: number, rounds: number): Record<string, unknown> {
  return {
    cohortSize: tabs,
    minReports: Math.max(1, tabs - 1),
    minClients: tabs,
    overSelection: 1,
    deadlineMs: 60_000,
    maxRounds: rounds,
  };
}

export interface Baseline {
  readonly name: string;
  readonly metrics: Record<string, number>;
}

/**
 * Open `tabs` contributor pages on the task (WASM backend), wait for it to complete its rounds,
 * and return the last committed round's held-out metrics and the baselines on the same split,
 * both from the coordinator's API.
 */
export async function trainInTabs(
  browser: Browser,
  coordinator: RunningCoordinator,
  taskId: string,
  tabs: number,
): Promise<{ metrics: Record<string, number>; baselines: Baseline[]; rounds: ApiRound[] }> {
  const pages = [];
  for (let i = 0; i < tabs; i++)
    pages.push(await openContributor(browser, coordinator.url, `task=${taskId}&backend=wasm`));
  await untilCompleted(coordinator.url, taskId, {
    // Three rounds at their 60-second deadlines fit, with the tabs' start (the test allows 6 min).
    timeout: 5 * 60_000,
    intervals: [1000],
  });
  const rounds = await evaluatedRounds<ApiRound>(coordinator.url, taskId);
  const last = rounds.filter((r) => r.status === 'committed').at(-1)!;
  const { baselines } = await api<{ baselines: Baseline[] }>(
    coordinator.url,
    `/api/tasks/${taskId}/held-out`,
  );
  for (const page of pages) await page.context.close();
  return { metrics: last.metrics!, baselines, rounds };
}
