import { type Static, Type } from '@sinclair/typebox';
import { PollenError } from '../errors.ts';

/**
 * Which weights of a pretrained model a task trains (docs/design.md, "Fine-tuning"): every
 * weight (the default); only the named layers', the others frozen; or low-rank adapters on the
 * named Dense layers (LoRA, Hu et al. 2021), the whole base frozen.
 */

const LayerNames = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 1000, description });

export const TrainableSchema = Type.Union(
  [
    Type.Object({ kind: Type.Literal('all') }, { additionalProperties: false }),
    Type.Object(
      { kind: Type.Literal('layers'), names: LayerNames('The layers trained; every other layer is frozen') },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Literal('lora'),
        rank: Type.Integer({ minimum: 1, maximum: 256, description: "The adapters' inner dimension r" }),
        alpha: Type.Number({
          exclusiveMinimum: 0,
          maximum: 1e6,
          description: "The adapters' scale is alpha / r",
        }),
        layers: LayerNames('The Dense layers given adapters; the base model is frozen'),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'What the task trains: all weights (default), some layers, or LoRA adapters' },
);
export type TrainableSpec = Static<typeof TrainableSchema>;

/** The default: every weight trains, as every task did before fine-tuning. */
export const TRAIN_ALL: TrainableSpec = { kind: 'all' };

/** Rules the schema cannot say: a layer named once. Returns the block as given. */
export function checkTrainable(trainable: TrainableSpec): TrainableSpec {
  if (trainable.kind === 'all') return trainable;
  const field = trainable.kind === 'layers' ? 'names' : 'layers';
  const names = trainable.kind === 'layers' ? trainable.names : trainable.layers;
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) {
    throw new PollenError('INVALID_TASK', `"training.trainable.${field}" names layer "${twice}" twice`);
  }
  return trainable;
}
