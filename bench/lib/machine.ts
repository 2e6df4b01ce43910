import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { CHROMIUM_PATH } from '../sim/browser.ts';

/** The machine a benchmark ran on, in words and figures, for the results files. */
export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly chromium: string | null;
  readonly gpu: string;
}

export function describeMachine(): Machine {
  const list = cpus();
  let chromium: string | null = null;
  try {
    chromium = execFileSync(CHROMIUM_PATH, ['--version'], {
      encoding: 'utf8',
      timeout: 20_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    chromium = null;
  }
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    chromium,
    gpu: 'none: WebGL and WebGPU run on SwiftShader, on the CPU',
  };
}
