import * as tf from '@tensorflow/tfjs';
import { singleInput, singleShape } from './inputs.ts';

/** What a LoraDense layer is configured with, as saved in a model's topology. */
export interface LoraDenseArgs {
  readonly units: number;
  /** The adapters' inner dimension r. */
  readonly rank: number;
  /** The adapters' scale is alpha / r (Hu et al. 2021). */
  readonly alpha: number;
  readonly activation?: string;
  readonly useBias?: boolean;
  readonly inputShape?: number[];
  readonly name?: string;
}

/** An activation's name as tfjs knows it (`relu`, `softmax`, `swish`, ...). */
type Activation = NonNullable<Parameters<typeof tf.layers.activation>[0]['activation']>;

/**
 * A dense layer with low-rank adapters (LoRA, Hu et al. 2021): y = act(x W + b + (alpha / r) x A B).
 * W and b are the pretrained base, frozen (not trainable); only A (in x r, Gaussian at start)
 * and B (r x units, zeros at start, so the layer starts as its base) are trained, which is what
 * makes federated fine-tuning cheap: only r (in + units) values a layer travel. `mergeLora`
 * folds the adapters into W for an export that loads as a plain Dense layer.
 */
export class LoraDense extends tf.layers.Layer {
  static readonly className = 'PollenLoraDense';
  readonly units: number;
  readonly rank: number;
  readonly alpha: number;
  readonly activationName: Activation;
  readonly useBias: boolean;
  /** tfjs' own activation, as its Dense layer applies it. */
  private readonly activation: tf.layers.Layer;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;
  private loraA: tf.LayerVariable | null = null;
  private loraB: tf.LayerVariable | null = null;

  constructor(args: LoraDenseArgs) {
    super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
    for (const [name, value, max] of [
      ['units', args.units, 65_536],
      ['rank', args.rank, 1024],
    ] as const) {
      if (!Number.isInteger(value) || value < 1 || value > max) {
        throw new RangeError(`"${name}" expected an integer in [1, ${max}], got ${value}`);
      }
    }
    if (!(Number.isFinite(args.alpha) && args.alpha > 0)) {
      throw new RangeError(`"alpha" expected a positive number, got ${args.alpha}`);
    }
    const activation = (args.activation ?? 'linear') as Activation;
    try {
      this.activation = tf.layers.activation({ activation });
    } catch {
      throw new RangeError(`"activation" expected an activation tfjs knows, got ${activation}`);
    }
    this.units = args.units;
    this.rank = args.rank;
    this.alpha = args.alpha;
    this.activationName = activation;
    this.useBias = args.useBias ?? true;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = singleShape(inputShape);
    const inputDim = shape[shape.length - 1]!;
    // The base: frozen, filled from the pretrained model (withLora) or a saved one.
    this.kernel = this.addWeight(
      'kernel',
      [inputDim, this.units],
      'float32',
      tf.initializers.glorotUniform({}),
      undefined,
      false,
    );
    if (this.useBias) {
      this.bias = this.addWeight('bias', [this.units], 'float32', tf.initializers.zeros(), undefined, false);
    }
    this.loraA = this.addWeight(
      'lora_A',
      [inputDim, this.rank],
      'float32',
      tf.initializers.randomNormal({ mean: 0, stddev: 1 / Math.sqrt(inputDim) }),
      undefined,
      true,
    );
    this.loraB = this.addWeight(
      'lora_B',
      [this.rank, this.units],
      'float32',
      tf.initializers.zeros(),
      undefined,
      true,
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = singleShape(inputShape);
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleInput(inputs);
      const flat = x.reshape([-1, x.shape[x.shape.length - 1]!]);
      const base = tf.matMul(flat, this.kernel!.read());
      const adapted = tf
        .matMul(tf.matMul(flat, this.loraA!.read()), this.loraB!.read())
        .mul(this.alpha / this.rank);
      let y = base.add(adapted);
      if (this.bias) y = y.add(this.bias.read());
      const out = y.reshape([...x.shape.slice(0, -1), this.units]);
      return this.activation.apply(out) as tf.Tensor;
    });
  }

  /** Set the frozen base: a Dense layer's [kernel] or [kernel, bias]. */
  setBase(weights: readonly tf.Tensor[]): void {
    if (!this.built) throw new Error(`layer "${this.name}" is not built`);
    const [kernel, bias] = weights;
    if (!kernel || (this.useBias && !bias))
      throw new RangeError('the base expected [kernel, bias] (or [kernel] without bias)');
    this.kernel!.write(kernel.clone());
    if (this.bias) this.bias.write(bias!.clone());
  }

  /** The frozen bias, or null without one. */
  biasValue(): tf.Tensor | null {
    return this.bias ? this.bias.read().clone() : null;
  }

  /** W + (alpha / r) A B: the dense kernel the adapters amount to. */
  mergedKernel(): tf.Tensor2D {
    return tf.tidy(() =>
      this.kernel!.read().add(tf.matMul(this.loraA!.read(), this.loraB!.read()).mul(this.alpha / this.rank)),
    ) as tf.Tensor2D;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      rank: this.rank,
      alpha: this.alpha,
      activation: this.activationName,
      useBias: this.useBias,
    };
  }
}

tf.serialization.registerClass(LoraDense);

/** A model's topology as tfjs serializes it: layers with their class names and configs. */
interface Topology {
  config: { layers: { class_name: string; config: Record<string, unknown> }[] };
}

function topologyOf(model: tf.LayersModel): Topology {
  return JSON.parse(JSON.stringify(model.toJSON(undefined, false))) as Topology;
}

/**
 * What a Dense layer and a LoraDense share in a saved config: name, input shape, units,
 * activation and bias, in snake case as tfjs writes configs (it reads `use_bias` back as useBias).
 */
function denseShape(c: Record<string, unknown>): Record<string, unknown> {
  return {
    name: c.name,
    trainable: true,
    ...(c.batch_input_shape ? { batch_input_shape: c.batch_input_shape } : {}),
    units: c.units,
    activation: c.activation ?? 'linear',
    use_bias: c.use_bias ?? true,
  };
}

async function fromTopology(topology: Topology): Promise<tf.LayersModel> {
  return tf.models.modelFromJSON({ modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'] });
}

/**
 * The pretrained `model` with low-rank adapters on its Dense layers named in `layers`: each
 * becomes a LoraDense whose frozen base is the Dense layer's weights and whose adapters start
 * at A Gaussian, B zero (the new model computes what the old one did). Every other layer keeps
 * its weights and is frozen, so only the adapters train.
 */
export async function withLora(
  model: tf.LayersModel,
  options: { readonly rank: number; readonly alpha: number; readonly layers: readonly string[] },
): Promise<tf.LayersModel> {
  const topology = topologyOf(model);
  const wanted = new Set(options.layers);
  for (const layer of topology.config.layers) {
    const name = layer.config.name as string;
    if (!wanted.has(name)) continue;
    if (layer.class_name !== 'Dense')
      throw new RangeError(`LoRA adapts Dense layers; "${name}" is a ${layer.class_name}`);
    const c = layer.config;
    layer.class_name = LoraDense.className;
    layer.config = { ...denseShape(c), rank: options.rank, alpha: options.alpha };
    wanted.delete(name);
  }
  if (wanted.size > 0) throw new RangeError(`no Dense layer named ${[...wanted].join(', ')}`);
  const adapted = await fromTopology(topology);
  for (const [i, layer] of adapted.layers.entries()) {
    const base = model.layers[i]!.getWeights();
    if (layer instanceof LoraDense) layer.setBase(base);
    else {
      layer.setWeights(base);
      layer.trainable = false;
    }
  }
  return adapted;
}

/**
 * The adapters folded into their base weights: a plain tfjs Layers model (every LoraDense a
 * Dense with W + (alpha / r) A B) that `tf.loadLayersModel` reads without any Pollen class.
 */
export async function mergeLora(model: tf.LayersModel): Promise<tf.LayersModel> {
  const topology = topologyOf(model);
  for (const layer of topology.config.layers) {
    // An export trains as any model does; and tfjs orders a model's weights trainable first,
    // so frozen layers would otherwise come out of the pretrained model's order.
    layer.config.trainable = true;
    if (layer.class_name !== LoraDense.className) continue;
    const c = layer.config;
    layer.class_name = 'Dense';
    layer.config = {
      ...denseShape(c),
      kernel_initializer: { class_name: 'Zeros', config: {} },
      bias_initializer: { class_name: 'Zeros', config: {} },
    };
  }
  const merged = await fromTopology(topology);
  for (const [i, layer] of model.layers.entries()) {
    const target = merged.layers[i]!;
    if (layer instanceof LoraDense) {
      const kernel = layer.mergedKernel();
      const bias = layer.biasValue();
      target.setWeights(bias ? [kernel, bias] : [kernel]);
      kernel.dispose();
      bias?.dispose();
    } else {
      target.setWeights(layer.getWeights());
    }
  }
  return merged;
}
