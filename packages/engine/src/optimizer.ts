/**
 * AdamW (decoupled weight decay, bias correction; PyTorch `torch.optim.AdamW` semantics, in
 * float32 as torch computes it on float32 tensors) over one flat parameter buffer, run by a
 * WebAssembly SIMD kernel (adamw-kernel.ts), and global gradient-norm clipping. The clip
 * factor is folded into the update, so clipping costs one read of the gradients (the norm).
 */
import { AdamWKernel, adamWReferenceFloat32 } from "./adamw-kernel.js";
import type { ParameterLayout } from "./parameters.js";

let sharedKernel: AdamWKernel | null | undefined;

/** The process's AdamW kernel (null where WebAssembly SIMD is missing). */
function kernel(): AdamWKernel | null {
  if (sharedKernel === undefined) sharedKernel = AdamWKernel.create() ?? null;
  return sharedKernel;
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

/** Serializable optimizer state (moments are saved as binary files by the checkpoint code). */
export interface AdamWState {
  step: number;
  firstMoment: Float32Array;
  secondMoment: Float32Array;
}

/** `sqrt(Σ g²)` over the whole buffer, accumulated in float64. */
export function globalGradientNorm(gradients: Float32Array): number {
  let total = 0;
  for (let index = 0; index < gradients.length; index += 1) {
    const value = gradients[index]!;
    total += value * value;
  }
  return Math.sqrt(total);
}

/** The factor `min(1, maxNorm / (norm + 1e-6))` used by torch's `clip_grad_norm_`. */
export function clipFactor(params: { norm: number; maxNorm: number | undefined }): number {
  if (params.maxNorm === undefined) return 1;
  return Math.min(1, params.maxNorm / (params.norm + 1e-6));
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  state: AdamWState;
  /** [offset, end, decay] ranges: weight decay is skipped for 1-D tensors (norm gains). */
  private readonly ranges: [number, number, boolean][];

  constructor(params: { layout: ParameterLayout; options?: AdamWOptions }) {
    const options = params.options ?? {};
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.state = {
      step: 0,
      firstMoment: new Float32Array(params.layout.length),
      secondMoment: new Float32Array(params.layout.length),
    };
    this.ranges = params.layout.entries.map((entry) => [
      entry.offset,
      entry.offset + entry.size,
      entry.shape.length > 1,
    ]);
  }

  /**
   * One update in place: `parameters -= lr·(m̂ / (√v̂ + ε) + λ·parameters)` with the
   * gradients multiplied by `gradientScale` (the clip factor) first.
   */
  update(params: {
    parameters: Float32Array;
    gradients: Float32Array;
    learningRate: number;
    gradientScale?: number;
  }): void {
    const { parameters, gradients, learningRate } = params;
    this.state.step += 1;
    const t = this.state.step;
    const update = kernel();
    for (const [start, end, decays] of this.ranges) {
      const range = {
        parameters,
        gradients,
        firstMoment: this.state.firstMoment,
        secondMoment: this.state.secondMoment,
        start,
        end,
        scalars: {
          scale: params.gradientScale ?? 1,
          beta1: this.beta1,
          beta2: this.beta2,
          stepSize: learningRate / (1 - this.beta1 ** t),
          inverseCorrection2: 1 / Math.sqrt(1 - this.beta2 ** t),
          epsilon: this.epsilon,
          decay: decays ? 1 - learningRate * this.weightDecay : 1,
        },
      };
      if (update === null) adamWReferenceFloat32(range);
      else update.update(range);
    }
  }
}
