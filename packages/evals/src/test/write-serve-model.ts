// Kept apart from serve-model.ts so that importing `@posttrain/evals/test` (the fake OpenAI
// server) loads neither the engine nor onnxruntime until a model is written.
/**
 * Writes the tiny random Llama used by the serve tests and `bench:serve` (micro tokenizer,
 * 512 tokens) as a model folder; `scale` multiplies the initial weights (N(0, 0.02²) gives
 * near-uniform logits).
 */
export async function writeTinyServeModel(params: {
  directory: string;
  seed: number;
  hiddenSize?: number;
  layers?: number;
  scale?: number;
}): Promise<void> {
  const [{ createTinyServeModel, saveTinyServeModel, microTokenizerDirectory }, { loadTokenizer }] =
    await Promise.all([import("./serve-model.js"), import("@posttrain/data")]);
  const tokenizer = await loadTokenizer({ directory: microTokenizerDirectory });
  const model = createTinyServeModel({
    seed: params.seed,
    eosTokenId: tokenizer.eosTokenIds[0]!,
    ...(params.hiddenSize === undefined ? {} : { hiddenSize: params.hiddenSize }),
    ...(params.layers === undefined ? {} : { layers: params.layers }),
  });
  const scale = params.scale ?? 1;
  for (let index = 0; index < model.parameters.length; index += 1) model.parameters[index]! *= scale;
  await saveTinyServeModel({ model, directory: params.directory });
}
