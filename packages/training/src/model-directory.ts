/**
 * The model folder every training stage writes as its output: `parameters.bin` (flat float32
 * in {@link ParameterLayout} order, sha256 sidecar; what {@link loadTrainingModel} reads back),
 * `model.safetensors` and `config.json` (`LlamaForCausalLM`), which Hugging Face `transformers`
 * and the engine's `loadPretrainedModel` load. The safetensors bytes come from the engine's
 * {@link encodeSafetensors} (F32, `{format: "pt"}` metadata). The engine stores linear weights
 * `[in, out]`; HF stores `[out, in]`, so every 2-D weight but the embedding is transposed.
 */
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "@posttrain/core";
import type { LlamaConfig, ParameterLayout } from "@posttrain/engine";
import { encodeSafetensors, type TensorToWrite } from "@posttrain/engine";

function transposed(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let row = 0; row < rows; row += 1)
    for (let column = 0; column < columns; column += 1)
      out[column * rows + row] = values[row * columns + column]!;
  return out;
}

/** The safetensors bytes of `parameters` under HF names and layouts. */
export function safetensorsBytes(params: { layout: ParameterLayout; parameters: Float32Array }): Uint8Array {
  const tensors: TensorToWrite[] = params.layout.entries.map((entry) => {
    const values = params.layout.view(params.parameters, entry.name);
    if (entry.shape.length !== 2 || entry.name === "model.embed_tokens.weight")
      return { name: entry.name, shape: [...entry.shape], data: values };
    const [rows, columns] = entry.shape as [number, number];
    return { name: entry.name, shape: [columns, rows], data: transposed(values, rows, columns) };
  });
  const chunks = [...encodeSafetensors({ tensors, dtype: "F32" })];
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let position = 0;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.byteLength;
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
 * Writes a model folder that {@link loadTrainingModel} reads back (`config.json`,
 * `parameters.bin` with a sha256 sidecar) and that HF `transformers` loads
 * (`model.safetensors`). Atomic per file.
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
