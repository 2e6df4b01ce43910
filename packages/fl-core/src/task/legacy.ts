/**
 * Task specs stored before tasks described their model, input and target carried
 * `modelTopology`, `inputShape`, `numClasses` and `dataset: { name: 'mnist', ... }`: always
 * MNIST digits as 0..255 pixels, one-hot labels and categorical cross-entropy. Such a spec
 * is rewritten into today's shape so a store written by an older coordinator still opens.
 */
export function upgradeLegacyTask(input: unknown): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  const obj = input as Record<string, unknown>;
  const legacy = 'modelTopology' in obj || 'inputShape' in obj || 'numClasses' in obj || 'dataset' in obj;
  if (!legacy || 'input' in obj || 'target' in obj) return input;
  const { modelTopology, inputShape, numClasses, dataset, ...rest } = obj;
  const out: Record<string, unknown> = { ...rest };
  if (modelTopology !== undefined && !('model' in obj)) out.model = { topology: modelTopology };
  out.input = { shape: inputShape, dtype: 'uint8', scale: 1 / 255 };
  out.target = { kind: 'class', numClasses };
  // The old worker trained on one-hot labels; sparse labels give the same loss and gradients.
  out.loss ??= 'sparseCategoricalCrossentropy';
  out.metrics ??= ['accuracy'];
  if (dataset !== null && typeof dataset === 'object') {
    const { name, ...data } = dataset as Record<string, unknown>;
    out.data = { builtin: name, ...data };
  }
  return out;
}
