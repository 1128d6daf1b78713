/**
 * Parameters (and gradients, and optimizer moments) live in one flat Float32Array each, with
 * a fixed layout: every named tensor is a view at an offset aligned to 16 floats (64 bytes).
 * Views are handed to ONNX Runtime as inputs (no copy) and as preallocated outputs.
 */
import { fingerprint } from "@posttrain/core";

export interface LayoutEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

const alignment = 16;

/** The offsets of named tensors inside one flat buffer. */
export class ParameterLayout {
  readonly entries: readonly LayoutEntry[];
  /** Total buffer length in floats (including alignment padding). */
  readonly length: number;
  private readonly byName: Map<string, LayoutEntry>;

  constructor(specs: readonly { name: string; shape: readonly number[] }[]) {
    let offset = 0;
    const entries: LayoutEntry[] = [];
    for (const spec of specs) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      entries.push({ name: spec.name, shape: [...spec.shape], offset, size });
      offset += Math.ceil(size / alignment) * alignment;
    }
    this.entries = entries;
    this.length = offset;
    this.byName = new Map(entries.map((entry) => [entry.name, entry]));
  }

  entry(name: string): LayoutEntry {
    const entry = this.byName.get(name);
    if (entry === undefined) throw new Error(`no parameter named ${name}`);
    return entry;
  }

  /** A view of `buffer` holding tensor `name`. */
  view(buffer: Float32Array, name: string): Float32Array {
    const entry = this.entry(name);
    return buffer.subarray(entry.offset, entry.offset + entry.size);
  }

  /** Number of real (unpadded) elements. */
  elementCount(): number {
    return this.entries.reduce((total, entry) => total + entry.size, 0);
  }

  /** A stable hash of names, shapes and offsets (checkpoints refuse a different layout). */
  fingerprint(): string {
    return fingerprint(this.entries.map((entry) => [entry.name, entry.shape, entry.offset]));
  }
}

/** Fills a flat buffer from named arrays (e.g. {@link DecoderModel.initialValues}). */
export function packParameters(params: {
  layout: ParameterLayout;
  values: ReadonlyMap<string, Float32Array>;
}): Float32Array {
  const buffer = new Float32Array(params.layout.length);
  for (const entry of params.layout.entries) {
    const value = params.values.get(entry.name);
    if (value === undefined || value.length !== entry.size) {
      throw new Error(
        `parameter ${entry.name}: expected ${entry.size} values, got ${value?.length ?? "none"}`,
      );
    }
    buffer.set(value, entry.offset);
  }
  return buffer;
}
