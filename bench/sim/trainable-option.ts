import {
  checkSchema,
  checkTrainable,
  PollenError,
  TrainableSchema,
  type TrainableSpec,
} from '@pollen/fl-core';
import { BenchError } from '../lib/errors.ts';

/** `--trainable`: a trainable block, or `head`: only the model's last layer (resolved per task). */
export type TrainableChoice = TrainableSpec | { readonly kind: 'head' };

/**
 * `--trainable`: `all`, `head` (the model's last layer only), `layers:A,B`,
 * `lora:RANK:ALPHA:A,B` (LoRA adapters on Dense layers A and B), or a JSON block. Checked by
 * fl-core as a task's `training.trainable` is.
 */
export function parseTrainable(text: string): TrainableChoice {
  if (text === 'head') return { kind: 'head' };
  let block: unknown;
  if (text.trim().startsWith('{')) {
    try {
      block = JSON.parse(text);
    } catch (err) {
      throw new BenchError('INVALID_OPTION', `"--trainable" is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    const [kind, ...rest] = text.split(':');
    const names = (list: string | undefined): string[] => (list ? list.split(',') : []);
    block =
      kind === 'lora'
        ? { kind, rank: Number(rest[0]), alpha: Number(rest[1]), layers: names(rest[2]) }
        : kind === 'layers'
          ? { kind, names: names(rest[0]) }
          : { kind };
  }
  try {
    checkSchema(TrainableSchema, block, 'INVALID_TASK', 'training.trainable');
    return checkTrainable(block as TrainableSpec);
  } catch (err) {
    if (err instanceof PollenError) throw new BenchError('INVALID_OPTION', `"--trainable": ${err.message}`);
    throw err;
  }
}

/** The trainable block of a task whose model is `model`: `head` names its last layer. */
export function trainableFor(choice: TrainableChoice, model: unknown): TrainableSpec {
  if (choice.kind !== 'head') return choice;
  const m = model as { kind?: string; topology?: { config?: { layers?: { config?: { name?: string } }[] } } };
  // A shorthand's (mlp, cnn) last layer is `output` (@pollen/ml's model.ts).
  const name = m.kind ? 'output' : m.topology?.config?.layers?.at(-1)?.config?.name;
  if (!name)
    throw new BenchError('INVALID_OPTION', '"--trainable head": the task\'s model names no last layer');
  return { kind: 'layers', names: [name] };
}
