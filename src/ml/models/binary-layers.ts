/**
 * Residual-binarised layers of BLU-Net (thesis §2.4, §3), as tfjs-layers custom layers registered
 * for serialisation. Latent weights stay fp32 and are re-binarised on every forward pass
 * ("fake-binarised"), unless `frozen` is set: then the kernel weights already hold Σ|g|·b
 * (the packed loader builds such layers so predictions match the original bit for bit).
 */
import * as tf from '@tensorflow/tfjs';
import { initialGammas, residualBinarize, type SteMode } from './binary-ops.js';
import { kerasHeNormal } from './initializers.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type LayerVariable = ReturnType<BinaryLayerBase['addGamma']>;
export type Padding = 'same' | 'valid';

/**
 * Whether a tf.Variable is one of these layers' gammas: its weight name is `gamma`,
 * `depthwise_gamma`, `pointwise_gamma` or `activation_gamma` (tfjs may append `_<n>` to keep names unique).
 */
export function isGammaVariable(variableName: string): boolean {
  return /\/(depthwise_|pointwise_|activation_)?gamma(_\d+)?$/.test(variableName);
}

/** Shared bits: gamma creation and the [M..1]/sum initial values. */
abstract class BinaryLayerBase extends tf.layers.Layer {
  addGamma(name: string, levels: number) {
    const gamma = this.addWeight(name, [levels], 'float32', tf.initializers.zeros(), undefined, true);
    gamma.write(tf.tensor1d(initialGammas(levels), 'float32'));
    return gamma;
  }
}

function lastDim(shape: tf.Shape | tf.Shape[]): number {
  const single = (Array.isArray(shape[0]) ? shape[0] : shape) as tf.Shape;
  const channels = single[single.length - 1];
  if (typeof channels !== 'number') throw new Error('binary layers need a known channel count');
  return channels;
}

function singleInput(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  const x = Array.isArray(inputs) ? inputs[0] : inputs;
  if (x === undefined) throw new Error('binary layer called without input');
  return x;
}

/** Output shape of a stride-1 conv: 'same' keeps H, W; 'valid' shrinks by k-1. */
function convOutputShape(inputShape: tf.Shape | tf.Shape[], kernelSize: number, padding: Padding, filters: number): tf.Shape {
  const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  const shrink = padding === 'valid' ? kernelSize - 1 : 0;
  const spatial = (d: number | null | undefined) => (d == null ? null : d - shrink);
  return [shape[0] ?? null, spatial(shape[1]), spatial(shape[2]), filters];
}

export interface BinarySignActivationArgs extends LayerArgs {
  levels?: number;
  /** Straight-through estimator (default 'unit', the thesis's). */
  ste?: SteMode;
}

/** Residual-binarised sign activation replacing ReLU: Σ_m |g_m|·sign(r_m), one gamma vector. */
export class BinarySignActivation extends BinaryLayerBase {
  static className = 'BinarySignActivation';
  readonly levels: number;
  readonly ste: SteMode;
  private gamma: LayerVariable | null = null;

  constructor(args: BinarySignActivationArgs = {}) {
    super(args);
    this.levels = args.levels ?? 3;
    this.ste = args.ste ?? 'unit';
  }

  override build(): void {
    this.gamma = this.addGamma('gamma', this.levels);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => residualBinarize(singleInput(inputs), requireWeight(this.gamma).read(), this.ste));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), levels: this.levels, ste: this.ste };
  }
}

function requireWeight(v: LayerVariable | null): LayerVariable {
  if (v === null) throw new Error('layer used before build');
  return v;
}

export interface BinaryConv2DArgs extends LayerArgs {
  filters: number;
  kernelSize: number;
  padding?: Padding;
  levels?: number;
  seed?: number;
  frozen?: boolean;
  ste?: SteMode;
}

/** Conv2D (stride 1) with a residual-binarised kernel (c levels) and an fp32 bias. */
export class BinaryConv2D extends BinaryLayerBase {
  static className = 'BinaryConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly padding: Padding;
  readonly levels: number;
  readonly seed: number;
  readonly frozen: boolean;
  readonly ste: SteMode;
  private kernel: LayerVariable | null = null;
  private bias: LayerVariable | null = null;
  private gamma: LayerVariable | null = null;

  constructor(args: BinaryConv2DArgs) {
    super(args);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.padding = args.padding ?? 'same';
    this.levels = args.levels ?? 3;
    this.seed = args.seed ?? 1;
    this.frozen = args.frozen ?? false;
    this.ste = args.ste ?? 'unit';
  }

  // Weight creation order (kernel, bias, gamma) mirrors Conv2D's getWeights() so transfer lines up.
  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const k = this.kernelSize;
    const init = kerasHeNormal(this.seed);
    this.kernel = this.addWeight('kernel', [k, k, lastDim(inputShape), this.filters], 'float32', init);
    this.bias = this.addWeight('bias', [this.filters], 'float32', tf.initializers.zeros());
    this.gamma = this.addGamma('gamma', this.levels);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const latent = requireWeight(this.kernel).read();
      const kernel = this.frozen ? latent : residualBinarize(latent, requireWeight(this.gamma).read(), this.ste);
      const y = tf.conv2d(singleInput(inputs) as tf.Tensor4D, kernel as tf.Tensor4D, 1, this.padding);
      return tf.add(y, requireWeight(this.bias).read());
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return convOutputShape(inputShape, this.kernelSize, this.padding, this.filters);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { filters, kernelSize, padding, levels, seed, frozen, ste } = this;
    return { ...super.getConfig(), filters, kernelSize, padding, levels, seed, frozen, ste };
  }
}

export interface BinarySeparableConv2DArgs extends LayerArgs {
  filters: number;
  kernelSize: number;
  padding?: Padding;
  depthwiseLevels?: number;
  pointwiseLevels?: number;
  /**
   * A residual activation binariser (its own gammas, `activationLevels` levels) between depthwise
   * and pointwise, so the pointwise is binary × binary (XNOR-popcount in the engine), after a
   * per-channel fp32 bias (`depthwise_bias`, zero-initialised) on the depthwise output. Default
   * false: the thesis, whose pointwise sees the real-valued depthwise output.
   */
  separableBinarise?: boolean;
  activationLevels?: number;
  seed?: number;
  frozen?: boolean;
  ste?: SteMode;
}

/**
 * SeparableConv2D (depth multiplier 1, stride 1) whose depthwise (d levels) and pointwise
 * (p levels) kernels are residual-binarised with separate gamma vectors; fp32 bias.
 */
export class BinarySeparableConv2D extends BinaryLayerBase {
  static className = 'BinarySeparableConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly padding: Padding;
  readonly depthwiseLevels: number;
  readonly pointwiseLevels: number;
  readonly separableBinarise: boolean;
  readonly activationLevels: number;
  readonly seed: number;
  readonly frozen: boolean;
  readonly ste: SteMode;
  private depthwise: LayerVariable | null = null;
  private pointwise: LayerVariable | null = null;
  private bias: LayerVariable | null = null;
  private depthwiseGamma: LayerVariable | null = null;
  private pointwiseGamma: LayerVariable | null = null;
  private activationGamma: LayerVariable | null = null;
  private depthwiseBias: LayerVariable | null = null;

  constructor(args: BinarySeparableConv2DArgs) {
    super(args);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.padding = args.padding ?? 'same';
    this.depthwiseLevels = args.depthwiseLevels ?? 3;
    this.pointwiseLevels = args.pointwiseLevels ?? 3;
    this.separableBinarise = args.separableBinarise ?? false;
    this.activationLevels = args.activationLevels ?? 3;
    this.seed = args.seed ?? 1;
    this.frozen = args.frozen ?? false;
    this.ste = args.ste ?? 'unit';
  }

  // Order (depthwise, pointwise, bias, gammas) mirrors SeparableConv2D's getWeights(); the inner
  // binariser's gammas and bias come last so the first five keep their indices with and without it.
  // Why the bias: every other binariser of the net follows a conv's bias. Without one, depthwise
  // sums of a few discrete values that cancel exactly in real numbers (+p +p −p −p) come out as 0
  // or as ±1e-7 depending on the summation order, and the simulation and the engine take
  // different signs there; a trained bias moves the thresholds off those sums.
  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const k = this.kernelSize;
    const cin = lastDim(inputShape);
    this.depthwise = this.addWeight('depthwise_kernel', [k, k, cin, 1], 'float32', kerasHeNormal(this.seed));
    // Same offset as lw_unet's pointwise seed (unet.ts), kept local to avoid a layer→builder import.
    this.pointwise = this.addWeight('pointwise_kernel', [1, 1, cin, this.filters], 'float32', kerasHeNormal(this.seed + 500_000));
    this.bias = this.addWeight('bias', [this.filters], 'float32', tf.initializers.zeros());
    this.depthwiseGamma = this.addGamma('depthwise_gamma', this.depthwiseLevels);
    this.pointwiseGamma = this.addGamma('pointwise_gamma', this.pointwiseLevels);
    if (this.separableBinarise) {
      this.activationGamma = this.addGamma('activation_gamma', this.activationLevels);
      this.depthwiseBias = this.addWeight('depthwise_bias', [cin], 'float32', tf.initializers.zeros());
    }
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const pw = this.effective(this.pointwise, this.pointwiseGamma) as tf.Tensor4D;
      const x = singleInput(inputs) as tf.Tensor4D;
      if (!this.separableBinarise) {
        const dw = this.effective(this.depthwise, this.depthwiseGamma) as tf.Tensor4D;
        return tf.add(tf.separableConv2d(x, dw, pw, 1, this.padding), requireWeight(this.bias).read());
      }
      const q = residualBinarize(this.depthwiseOutput(x), requireWeight(this.activationGamma).read(), this.ste);
      return tf.add(tf.conv2d(q as tf.Tensor4D, pw, 1, 'valid'), requireWeight(this.bias).read());
    });
  }

  /** What the inner binariser sees: depthwise output + depthwise_bias (calibration fits its gammas to it). */
  depthwiseOutput(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const y = tf.depthwiseConv2d(x, this.effective(this.depthwise, this.depthwiseGamma) as tf.Tensor4D, 1, this.padding);
      return tf.add(y, requireWeight(this.depthwiseBias).read());
    });
  }

  private effective(kernel: LayerVariable | null, gamma: LayerVariable | null): tf.Tensor {
    const latent = requireWeight(kernel).read();
    return this.frozen ? latent : residualBinarize(latent, requireWeight(gamma).read(), this.ste);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return convOutputShape(inputShape, this.kernelSize, this.padding, this.filters);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { filters, kernelSize, padding, depthwiseLevels, pointwiseLevels, separableBinarise, activationLevels, seed, frozen, ste } = this;
    return {
      ...super.getConfig(),
      ...{ filters, kernelSize, padding, depthwiseLevels, pointwiseLevels, separableBinarise, activationLevels, seed, frozen, ste },
    };
  }
}

tf.serialization.registerClass(BinarySignActivation);
tf.serialization.registerClass(BinaryConv2D);
tf.serialization.registerClass(BinarySeparableConv2D);
