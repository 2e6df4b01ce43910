/**
 * Task specs stored before tasks described their model, input and target carried
 * `modelTopology`, `inputShape`, `numClasses` and `dataset: { name: 'mnist', ... }`: always
 * MNIST digits as 0..255 pixels, one-hot labels and categorical cross-entropy. Such a spec
 * is rewritten into today's shape so a store written by an older coordinator still opens.
 */
export function upgradeLegacyTask(input: unknown): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  const obj = dataFromDataset(input as Record<string, unknown>);
  const legacy = 'modelTopology' in obj || 'inputShape' in obj || 'numClasses' in obj;
  if (!legacy || 'input' in obj || 'target' in obj) return obj;
  const { modelTopology, inputShape, numClasses, ...rest } = obj;
  const out: Record<string, unknown> = { ...rest };
  if (modelTopology !== undefined && !('model' in obj)) out.model = { topology: modelTopology };
  out.input = { shape: inputShape, dtype: 'uint8', scale: 1 / 255 };
  out.target = { kind: 'class', numClasses };
  // The old worker trained on one-hot labels; sparse labels give the same loss and gradients.
  out.loss ??= 'sparseCategoricalCrossentropy';
  out.metrics ??= ['accuracy'];
  return out;
}

/**
 * `dataset: { name: 'mnist', ... }` is read as `data: { builtin: 'mnist', ... }` wherever it
 * appears (stored specs, task files and requests written for earlier versions), unless the
 * task also gives `data`: then `dataset` is refused as an unknown field.
 */
function dataFromDataset(obj: Record<string, unknown>): Record<string, unknown> {
  const { dataset, ...rest } = obj;
  if (dataset === null || typeof dataset !== 'object' || 'data' in obj) return obj;
  const { name, ...data } = dataset as Record<string, unknown>;
  return { ...rest, data: { builtin: name, ...data } };
}
