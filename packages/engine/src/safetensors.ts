/**
 * The safetensors format, implemented directly (it is tiny and fully specified): an 8-byte
 * little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin,
 * end]}, "__metadata__"?: {string: string}}` (offsets relative to the byte after the header,
 * which is space-padded to a multiple of 8), then the raw little-endian tensor bytes.
 *
 * Reading accepts F32, BF16 and F16 and always returns float32 (BF16 → F32 is a 16-bit shift,
 * exact; F16 is decoded exactly, subnormals included). Writing produces F32 or BF16 (round to
 * nearest even, as `torch.Tensor.to(torch.bfloat16)` does).
 */
import { readFile } from "node:fs/promises";
import { PosttrainError, type PosttrainErrorParams, parseWithSchema, writeFileAtomic } from "@posttrain/core";
import { z } from "zod";

/** Stored element types the engine reads. */
export type SafetensorsDtype = "F32" | "BF16" | "F16";

export interface SafetensorsTensor {
  /** Row-major shape as stored. */
  shape: number[];
  /** The stored element type (the data is always float32). */
  dtype: SafetensorsDtype;
  data: Float32Array;
}

type ErrorParams = Omit<PosttrainErrorParams, "code">;

/** A safetensors file is malformed or holds a dtype the engine does not read. */
export class SafetensorsError extends PosttrainError {
  constructor(params: ErrorParams) {
    super({ ...params, code: "invalid_safetensors" });
    this.name = "SafetensorsError";
  }
}

const bytesPerElement: Record<SafetensorsDtype, number> = { F32: 4, BF16: 2, F16: 2 };

const headerEntrySchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

/** Decodes one IEEE 754 half-precision value. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Converts stored bytes to float32. */
function decode(dtype: SafetensorsDtype, bytes: Uint8Array, count: number): Float32Array {
  if (dtype === "F32") {
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  if (dtype === "BF16") {
    const bits = new Uint32Array(out.buffer);
    for (let index = 0; index < count; index += 1) bits[index] = view.getUint16(index * 2, true) << 16;
    return out;
  }
  for (let index = 0; index < count; index += 1) out[index] = halfToFloat(view.getUint16(index * 2, true));
  return out;
}

/** Parses safetensors bytes (see the module comment). `label` names the file in errors. */
export function parseSafetensors(params: { bytes: Uint8Array; label: string }): {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
} {
  const { bytes, label } = params;
  if (bytes.byteLength < 8)
    throw new SafetensorsError({ message: `${label}: shorter than the 8-byte header length` });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength)
    throw new SafetensorsError({ message: `${label}: header length ${headerLength} exceeds the file` });
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<
      string,
      unknown
    >;
  } catch (error) {
    throw new SafetensorsError({ message: `${label}: the header is not JSON`, cause: error });
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, SafetensorsTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = parseWithSchema({
        schema: z.record(z.string(), z.string()),
        value: raw,
        label: `${label} __metadata__`,
      });
      continue;
    }
    const entry = parseWithSchema({
      schema: headerEntrySchema,
      value: raw,
      label: `${label} tensor ${name}`,
    });
    if (!(entry.dtype in bytesPerElement)) {
      throw new SafetensorsError({
        message: `${label}: tensor ${name} has dtype ${entry.dtype}; supported: F32, BF16, F16`,
        details: { tensor: name, dtype: entry.dtype },
      });
    }
    const dtype = entry.dtype as SafetensorsDtype;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = entry.data_offsets;
    if (end - begin !== count * bytesPerElement[dtype] || dataStart + end > bytes.byteLength) {
      throw new SafetensorsError({
        message: `${label}: tensor ${name} offsets [${begin}, ${end}] do not fit shape [${entry.shape.join(", ")}] ${dtype} in the file`,
      });
    }
    tensors.set(name, {
      shape: entry.shape,
      dtype,
      data: decode(dtype, bytes.subarray(dataStart + begin, dataStart + end), count),
    });
  }
  return { tensors, metadata };
}

/** Reads one `.safetensors` file. */
export async function readSafetensors(params: { path: string }): Promise<{
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}> {
  return parseSafetensors({ bytes: await readFile(params.path), label: params.path });
}

/** float32 → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function floatToBfloat16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let index = 0; index < values.length; index += 1) {
    const value = bits[index]!;
    if ((value & 0x7fffffff) > 0x7f800000) {
      out[index] = (value >>> 16) | 0x40;
      continue;
    }
    out[index] = (value + 0x7fff + ((value >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** A tensor to write: row-major float32 data and its shape. */
export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/** The bytes of a safetensors file holding `tensors` (in the given order) as `dtype`. */
export function* encodeSafetensors(params: {
  tensors: readonly TensorToWrite[];
  dtype: "F32" | "BF16";
  metadata?: Record<string, string>;
}): Generator<Uint8Array> {
  const header: Record<string, unknown> = { __metadata__: params.metadata ?? { format: "pt" } };
  let offset = 0;
  const width = bytesPerElement[params.dtype];
  for (const tensor of params.tensors) {
    const size = tensor.data.length * width;
    header[tensor.name] = {
      dtype: params.dtype,
      shape: [...tensor.shape],
      data_offsets: [offset, offset + size],
    };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  yield prefix;
  yield headerBytes;
  for (const tensor of params.tensors) {
    if (params.dtype === "F32") {
      yield new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    } else {
      const converted = floatToBfloat16Bits(tensor.data);
      yield new Uint8Array(converted.buffer);
    }
  }
}

/** Writes a safetensors file atomically (metadata defaults to `{format: "pt"}`). */
export async function writeSafetensors(params: {
  path: string;
  tensors: readonly TensorToWrite[];
  dtype?: "F32" | "BF16";
  metadata?: Record<string, string>;
}): Promise<void> {
  await writeFileAtomic({
    path: params.path,
    content: encodeSafetensors({
      tensors: params.tensors,
      dtype: params.dtype ?? "F32",
      ...(params.metadata === undefined ? {} : { metadata: params.metadata }),
    }),
  });
}
