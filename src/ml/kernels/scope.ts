import * as tf from '@tensorflow/tfjs';

/** Padding per side of the two spatial axes; negative amounts mean "crop". */
export interface SpatialPads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/**
 * Runs other kernels of the same backend from inside a kernel function and owns their outputs.
 * Every kernel output holds exactly one reference to its dataId (wasm's Reshape returns the
 * input's dataId with refCount+1), so disposing every tracked output once — except the one we
 * return — frees all intermediates without touching the caller's inputs.
 */
export class KernelScope {
  private readonly owned: tf.TensorInfo[] = [];

  constructor(
    readonly backend: tf.KernelBackend,
    readonly backendName: string,
  ) {}

  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const kernel = tf.getKernel(kernelName, this.backendName);
    if (kernel === undefined) throw new Error(`kernel ${kernelName} missing on ${this.backendName}`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    const single = Array.isArray(out) ? out[0] : out;
    if (single === undefined) throw new Error(`kernel ${kernelName} returned nothing`);
    this.owned.push(single);
    return single;
  }

  /** Disposes every intermediate except `result`, which the caller hands to the engine. */
  finish(result: tf.TensorInfo): tf.TensorInfo {
    let kept = false;
    for (const t of this.owned) {
      if (t === result && !kept) {
        kept = true;
        continue;
      }
      this.backend.disposeData(t.dataId);
    }
    this.owned.length = 0;
    if (!kept) throw new Error('KernelScope.finish: result was not produced in this scope');
    return result;
  }

  disposeAll(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  sum(x: tf.TensorInfo, axis: number[]): tf.TensorInfo {
    return this.run('Sum', { x }, { axis, keepDims: false });
  }

  reverse(x: tf.TensorInfo, dims: number[]): tf.TensorInfo {
    return this.run('Reverse', { x }, { dims });
  }

  pad(x: tf.TensorInfo, paddings: [number, number][]): tf.TensorInfo {
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** Crops the negative sides of an NHWC tensor; returns the remaining (non-negative) pads. */
  cropNegative(x: tf.TensorInfo, pads: SpatialPads): { x: tf.TensorInfo; pads: SpatialPads } {
    const cut = (p: number): number => Math.max(0, -p);
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const top = cut(pads.top);
    const bottom = cut(pads.bottom);
    const left = cut(pads.left);
    const right = cut(pads.right);
    const rest = { top: pads.top + top, bottom: pads.bottom + bottom, left: pads.left + left, right: pads.right + right };
    if (top + bottom + left + right === 0) return { x, pads: rest };
    const cropped = this.slice(x, [0, top, left, 0], [b, h - top - bottom, w - left - right, c]);
    return { x: cropped, pads: rest };
  }

  /** Inserts stride-1 zeros between rows and columns of an NHWC tensor (no trailing zeros). */
  dilateSpatial(x: tf.TensorInfo, strideH: number, strideW: number): tf.TensorInfo {
    if (strideH === 1 && strideW === 1) return x;
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const split = this.reshape(x, [b, h, 1, w, 1, c]);
    const zeros: [number, number][] = [
      [0, 0],
      [0, 0],
      [0, strideH - 1],
      [0, 0],
      [0, strideW - 1],
      [0, 0],
    ];
    const spread = this.pad(split, zeros);
    const merged = this.reshape(spread, [b, h * strideH, w * strideW, c]);
    return this.slice(merged, [0, 0, 0, 0], [b, (h - 1) * strideH + 1, (w - 1) * strideW + 1, c]);
  }
}

export function explicitPad(p: SpatialPads): [[number, number], [number, number], [number, number], [number, number]] {
  return [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ];
}
