/**
 * The AdamW update as a WebAssembly SIMD kernel (f32x4), ~2–3× faster than the same loop in
 * JavaScript (bench/RESULTS.md). The parameters, gradients and moments stay in ordinary
 * Float32Arrays (onnxruntime-node reads and writes those directly, and it rejects
 * SharedArrayBuffer views, so the buffers cannot move into a shared wasm memory): the kernel
 * streams them through a small scratch memory in blocks that stay in the L2 cache, so main
 * memory sees the same traffic as the plain loop (read p, g, m, v; write p, m, v).
 *
 * Arithmetic is IEEE float32 throughout (as torch's AdamW on float32 tensors), in the order
 * of {@link adamWReferenceFloat32}, which the tests compare bit for bit.
 *
 * The module is a few hundred bytes written out below rather than generated from a .wat file
 * at build time: there is no wasm toolchain among the dependencies, and the function is small
 * enough to read in full.
 */

/** Elements per block; four blocks (p, g, m, v) of 16,384 floats fill 256 KiB of scratch. */
const blockElements = 16_384;
const blockBytes = blockElements * 4;
const offsets = { parameters: 0, gradients: blockBytes, first: 2 * blockBytes, second: 3 * blockBytes };

function unsignedLeb128(value: number): number[] {
  const bytes: number[] = [];
  let remaining = value;
  do {
    let byte = remaining & 0x7f;
    remaining >>>= 7;
    if (remaining !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (remaining !== 0);
  return bytes;
}

function section(id: number, content: number[]): number[] {
  return [id, ...unsignedLeb128(content.length), ...content];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsignedLeb128(bytes.length), ...bytes];
}

// Opcodes (WebAssembly core and SIMD proposals).
const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Shl: 0x74,
  simd: 0xfd,
};
const simd = {
  load: [0x00],
  store: [0x0b],
  f32x4Splat: [0x13],
  f32x4Sqrt: [0xe3, 0x01],
  f32x4Add: [0xe4, 0x01],
  f32x4Sub: [0xe5, 0x01],
  f32x4Mul: [0xe6, 0x01],
  f32x4Div: [0xe7, 0x01],
};
const type = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

/**
 * `adamw(count, scale, beta1, oneMinusBeta1, beta2, oneMinusBeta2, stepSize,
 * inverseCorrection2, epsilon, decay)` over the first `count` (a multiple of 4) elements of
 * the four scratch blocks.
 */
function moduleBytes(): Uint8Array {
  const scalarNames = [
    "scale",
    "beta1",
    "oneMinusBeta1",
    "beta2",
    "oneMinusBeta2",
    "stepSize",
    "inverseCorrection2",
    "epsilon",
    "decay",
  ] as const;
  const parameterCount = 1 + scalarNames.length; // count + scalars
  const position = parameterCount; // i32 byte offset
  const end = parameterCount + 1; // i32 byte end
  const splat = (scalar: (typeof scalarNames)[number]) => end + 1 + scalarNames.indexOf(scalar);
  const scaled = end + 1 + scalarNames.length;
  const first = scaled + 1;
  const second = scaled + 2;
  const get = (local: number) => [op.localGet, ...unsignedLeb128(local)];
  const set = (local: number) => [op.localSet, ...unsignedLeb128(local)];
  const load = (offset: number) => [...get(position), op.simd, ...simd.load, 4, ...unsignedLeb128(offset)];
  const store = (offset: number) => [op.simd, ...simd.store, 4, ...unsignedLeb128(offset)];
  const f32x4 = (instruction: number[]) => [op.simd, ...instruction];

  const body = [
    // locals: 2 × i32 (position, end), 9 splats + 3 temporaries × v128
    2,
    2,
    type.i32,
    scalarNames.length + 3,
    type.v128,
    ...get(0),
    op.i32Const,
    2,
    op.i32Shl,
    ...set(end),
    ...scalarNames.flatMap((scalar, index) => [
      ...get(1 + index),
      ...f32x4(simd.f32x4Splat),
      ...set(splat(scalar)),
    ]),
    op.block,
    0x40,
    op.loop,
    0x40,
    ...get(position),
    ...get(end),
    op.i32GeU,
    op.brIf,
    1,
    // g' = g·scale
    ...load(offsets.gradients),
    ...get(splat("scale")),
    ...f32x4(simd.f32x4Mul),
    ...set(scaled),
    // m' = β1·m + (1−β1)·g'
    ...load(offsets.first),
    ...get(splat("beta1")),
    ...f32x4(simd.f32x4Mul),
    ...get(splat("oneMinusBeta1")),
    ...get(scaled),
    ...f32x4(simd.f32x4Mul),
    ...f32x4(simd.f32x4Add),
    ...set(first),
    // v' = β2·v + ((1−β2)·g')·g'
    ...load(offsets.second),
    ...get(splat("beta2")),
    ...f32x4(simd.f32x4Mul),
    ...get(splat("oneMinusBeta2")),
    ...get(scaled),
    ...f32x4(simd.f32x4Mul),
    ...get(scaled),
    ...f32x4(simd.f32x4Mul),
    ...f32x4(simd.f32x4Add),
    ...set(second),
    ...get(position),
    ...get(first),
    ...store(offsets.first),
    ...get(position),
    ...get(second),
    ...store(offsets.second),
    // p' = p·decay − (stepSize·m') / (√v'·c₂ + ε)
    ...get(position),
    ...load(offsets.parameters),
    ...get(splat("decay")),
    ...f32x4(simd.f32x4Mul),
    ...get(splat("stepSize")),
    ...get(first),
    ...f32x4(simd.f32x4Mul),
    ...get(second),
    ...f32x4(simd.f32x4Sqrt),
    ...get(splat("inverseCorrection2")),
    ...f32x4(simd.f32x4Mul),
    ...get(splat("epsilon")),
    ...f32x4(simd.f32x4Add),
    ...f32x4(simd.f32x4Div),
    ...f32x4(simd.f32x4Sub),
    ...store(offsets.parameters),
    ...get(position),
    op.i32Const,
    16,
    op.i32Add,
    ...set(position),
    op.br,
    0,
    op.end,
    op.end,
    op.end,
  ];
  const functionType = [
    0x60,
    ...unsignedLeb128(parameterCount),
    type.i32,
    ...scalarNames.map(() => type.f32),
    0,
  ];
  const pages = (4 * blockBytes) / 65_536;
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, ...functionType]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, ...unsignedLeb128(pages)]),
    ...section(7, [2, ...name("adamw"), 0x00, 0, ...name("memory"), 0x02, 0]),
    ...section(10, [1, ...unsignedLeb128(body.length), ...body]),
  ]);
}

/** Scalars of one AdamW update over a range (see {@link AdamWKernel.update}). */
export interface AdamWScalars {
  scale: number;
  beta1: number;
  beta2: number;
  stepSize: number;
  inverseCorrection2: number;
  epsilon: number;
  decay: number;
}

type KernelFunction = (count: number, ...scalars: number[]) => void;

/** The part of the WebAssembly JS API used here (TypeScript's Node typings omit it; it lives in lib.dom). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** One instance of the kernel with its scratch memory. */
export class AdamWKernel {
  private readonly run: KernelFunction;
  private readonly scratch: {
    parameters: Float32Array;
    gradients: Float32Array;
    first: Float32Array;
    second: Float32Array;
  };

  private constructor(exports: Record<string, unknown>) {
    this.run = exports["adamw"] as KernelFunction;
    const buffer = (exports["memory"] as { buffer: ArrayBuffer }).buffer;
    this.scratch = {
      parameters: new Float32Array(buffer, offsets.parameters, blockElements),
      gradients: new Float32Array(buffer, offsets.gradients, blockElements),
      first: new Float32Array(buffer, offsets.first, blockElements),
      second: new Float32Array(buffer, offsets.second, blockElements),
    };
  }

  /** A kernel, or undefined where this WebAssembly runtime has no SIMD. */
  static create(): AdamWKernel | undefined {
    const bytes = moduleBytes();
    if (!webAssembly.validate(bytes)) return undefined;
    return new AdamWKernel(new webAssembly.Instance(new webAssembly.Module(bytes)).exports);
  }

  /** Updates elements `start … end − 1` of the four buffers in place. */
  update(params: {
    parameters: Float32Array;
    gradients: Float32Array;
    firstMoment: Float32Array;
    secondMoment: Float32Array;
    start: number;
    end: number;
    scalars: AdamWScalars;
  }): void {
    const { scalars } = params;
    const scratch = this.scratch;
    for (let block = params.start; block < params.end; block += blockElements) {
      const blockEnd = Math.min(params.end, block + blockElements);
      const count = blockEnd - block;
      scratch.parameters.set(params.parameters.subarray(block, blockEnd));
      scratch.gradients.set(params.gradients.subarray(block, blockEnd));
      scratch.first.set(params.firstMoment.subarray(block, blockEnd));
      scratch.second.set(params.secondMoment.subarray(block, blockEnd));
      // A partial last block is padded with zeros, which the update maps to zeros.
      const padded = (count + 3) & ~3;
      if (padded !== count) {
        scratch.parameters.fill(0, count, padded);
        scratch.gradients.fill(0, count, padded);
        scratch.first.fill(0, count, padded);
        scratch.second.fill(0, count, padded);
      }
      this.run(
        padded,
        scalars.scale,
        scalars.beta1,
        1 - scalars.beta1,
        scalars.beta2,
        1 - scalars.beta2,
        scalars.stepSize,
        scalars.inverseCorrection2,
        scalars.epsilon,
        scalars.decay,
      );
      params.parameters.set(scratch.parameters.subarray(0, count), block);
      params.firstMoment.set(scratch.first.subarray(0, count), block);
      params.secondMoment.set(scratch.second.subarray(0, count), block);
    }
  }
}

/**
 * The kernel's arithmetic, one element, in float32 (each operation rounded as f32x4 does):
 * the reference the kernel is tested against bit for bit, and the fallback where WebAssembly
 * SIMD is missing.
 */
export function adamWReferenceFloat32(params: {
  parameters: Float32Array;
  gradients: Float32Array;
  firstMoment: Float32Array;
  secondMoment: Float32Array;
  start: number;
  end: number;
  scalars: AdamWScalars;
}): void {
  const f = Math.fround;
  const { parameters, gradients, firstMoment, secondMoment, scalars } = params;
  const scale = f(scalars.scale);
  const beta1 = f(scalars.beta1);
  const oneMinusBeta1 = f(1 - scalars.beta1);
  const beta2 = f(scalars.beta2);
  const oneMinusBeta2 = f(1 - scalars.beta2);
  const stepSize = f(scalars.stepSize);
  const inverseCorrection2 = f(scalars.inverseCorrection2);
  const epsilon = f(scalars.epsilon);
  const decay = f(scalars.decay);
  for (let index = params.start; index < params.end; index += 1) {
    const gradient = f(gradients[index]! * scale);
    const first = f(f(firstMoment[index]! * beta1) + f(oneMinusBeta1 * gradient));
    const second = f(f(secondMoment[index]! * beta2) + f(f(oneMinusBeta2 * gradient) * gradient));
    firstMoment[index] = first;
    secondMoment[index] = second;
    const denominator = f(f(f(Math.sqrt(second)) * inverseCorrection2) + epsilon);
    parameters[index] = f(f(parameters[index]! * decay) - f(f(stepSize * first) / denominator));
  }
}
