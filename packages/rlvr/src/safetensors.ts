// Copy of the sft/dpo glue (sibling stages may not import each other); keep in sync.
/**
 * Writes a Hugging Face checkpoint folder: `model.safetensors` + `config.json`
 * (`LlamaForCausalLM`). safetensors is an 8-byte little-endian header length, a JSON header
 * (`{ name: { dtype, shape, data_offsets } }`, padded with spaces to 8 bytes) and the raw
 * little-endian tensor bytes. The format is small and fixed, so it is written here rather than
 * through a dependency. The engine stores linear weights `[in, out]`; HF stores `[out, in]`,
 * so every 2-D weight but the embedding is transposed on the way out.
 */
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "@posttrain/core";
import type { LlamaConfig, ParameterLayout } from "@posttrain/engine";

function transposed(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let row = 0; row < rows; row += 1)
    for (let column = 0; column < columns; column += 1)
      out[column * rows + row] = values[row * columns + column]!;
  return out;
}

/** The safetensors bytes of `parameters` under HF names and layouts. */
export function safetensorsBytes(params: { layout: ParameterLayout; parameters: Float32Array }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  const tensors: Float32Array[] = [];
  let offset = 0;
  for (const entry of params.layout.entries) {
    let values = params.layout.view(params.parameters, entry.name);
    let shape = [...entry.shape];
    if (shape.length === 2 && entry.name !== "model.embed_tokens.weight") {
      values = transposed(values, shape[0]!, shape[1]!);
      shape = [shape[1]!, shape[0]!];
    }
    header[entry.name] = { dtype: "F32", shape, data_offsets: [offset, offset + values.byteLength] };
    offset += values.byteLength;
    tensors.push(values);
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const values of tensors) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), position);
    position += values.byteLength;
  }
  return out;
}

/** HF `config.json` for a Llama-style model. */
export function huggingFaceConfig(config: LlamaConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    torch_dtype: "float32",
    hidden_act: "silu",
    ...config,
  };
}

/**
 * Writes a model folder that {@link loadModel} reads back (`config.json`, `parameters.bin`
 * with a sha256 sidecar) and that HF `transformers` loads (`model.safetensors`). Atomic per file.
 */
export async function writeModelDirectory(params: {
  directory: string;
  config: LlamaConfig;
  layout: ParameterLayout;
  parameters: Float32Array;
}): Promise<string> {
  const { directory } = params;
  await writeFileAtomic({
    path: join(directory, "parameters.bin"),
    content: new Uint8Array(
      params.parameters.buffer,
      params.parameters.byteOffset,
      params.parameters.byteLength,
    ),
    checksum: true,
  });
  await writeFileAtomic({
    path: join(directory, "model.safetensors"),
    content: safetensorsBytes({ layout: params.layout, parameters: params.parameters }),
  });
  await writeJsonAtomic({ path: join(directory, "config.json"), value: huggingFaceConfig(params.config) });
  return directory;
}
