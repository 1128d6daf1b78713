import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { gradients } from "./autodiff.js";
import { emitModel } from "./emit.js";
import { GraphBuilder, type GraphTensor } from "./graph.js";
import { parseHuggingFaceConfig } from "./model/architecture.js";
import { DecoderModel } from "./model/decoder.js";
import { parseLlamaConfig } from "./model/llama-config.js";
import { operations } from "./ops.js";
import { buildCausalLmTrainingGraph } from "./trainer.js";

// Fingerprints (sha256 of the emitted ONNX bytes) of graphs that together use every op in the
// op table, forward and backward. Recorded before the op table was split by family: a change
// to any op's shape inference, lowering or gradient rule that alters an emitted graph fails
// here. Update a fingerprint only for a deliberate change to the graphs, and say why.
const sha256 = (bytes: Uint8Array | string): string => createHash("sha256").update(bytes).digest("hex");

/**
 * A fingerprint of what a graph computes, independent of the order its nodes were created in:
 * each output is hashed as the tree of ops (with attributes and output index) over graph
 * inputs (by name) and constants (by value), so two graphs agree exactly when every output —
 * every gradient sum included, in its order of addition — is the same expression.
 */
function structureOf(params: { graph: GraphBuilder; outputs: Record<string, GraphTensor> }): string {
  const constants = new Map(params.graph.constants.map((constant) => [constant.tensor.id, constant]));
  const hashes = new Map<number, string>();
  const hashOf = (tensor: GraphTensor): string => {
    const known = hashes.get(tensor.id);
    if (known !== undefined) return known;
    const node = tensor.producer;
    const constant = constants.get(tensor.id);
    let text: string;
    if (node !== undefined) {
      const attributes = JSON.stringify(node.attributes, (_, value: unknown) =>
        typeof value === "bigint" ? String(value) : value,
      );
      text = `${node.op}:${attributes}:${node.outputs.indexOf(tensor)}:${node.inputs.map(hashOf).join(",")}`;
    } else if (constant !== undefined) {
      const { values } = constant;
      const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("hex");
      text = `constant:${tensor.dtype}:${tensor.shape.map(String).join(",")}:${bytes}`;
    } else text = `input:${tensor.name}`;
    const hash = sha256(text);
    hashes.set(tensor.id, hash);
    return hash;
  };
  return sha256(
    Object.keys(params.outputs)
      .sort()
      .map((name) => `${name}=${hashOf(params.outputs[name]!)}`)
      .join(";"),
  );
}

const decoderConfig = {
  vocab_size: 97,
  hidden_size: 128,
  intermediate_size: 384,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  hidden_act: "silu",
  max_position_embeddings: 256,
  bos_token_id: 1,
  eos_token_id: 2,
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  tie_word_embeddings: true,
};

/** Every elementwise, shape and reduction op with its gradient, in float64. */
function elementwiseGraph(): { graph: GraphBuilder; outputs: Record<string, GraphTensor> } {
  const graph = new GraphBuilder({ floatType: "float64" });
  const x = graph.parameter({ name: "x", shape: [2, 3, 4] });
  const w = graph.parameter({ name: "w", shape: [4] });
  const m = graph.parameter({ name: "m", shape: [4, 5] });
  const ids = graph.input({ name: "ids", dtype: "int64", shape: ["batch", 3] });
  const positive = graph.add(graph.exp(x), graph.sqrt(graph.mul(w, w)));
  const mixed = graph.sub(
    graph.div(graph.log(positive), graph.reciprocal(graph.add(positive, graph.scalar(1)))),
    graph.maximum(graph.sigmoid(x), graph.tanh(graph.neg(x))),
  );
  const gated = graph.where(
    graph.and(graph.lessOrEqual(x, mixed), graph.equal(graph.cast(x, "int64"), graph.cast(mixed, "int64"))),
    graph.add(graph.cos(x), graph.sin(mixed)),
    graph.softmax(mixed),
  );
  const joined = graph.concat([graph.slice(gated, { axis: 2, start: 1, end: 3 }), gated], 2);
  const moved = graph.transposeLast(graph.reshape(joined, [6, 6]));
  const normed = graph.logSoftmax(graph.matMul(graph.reshape(x, [6, 4]), m));
  const picked = graph.embedding(m, ids);
  const targets = graph.input({ name: "targets", dtype: "int64", shape: [6] });
  const logProbs = graph.reduceSum(graph.tokenLogProbs(normed, targets), { axes: [0] });
  const loss = graph.add(
    graph.add(
      graph.add(
        graph.reduceMean(moved, { axes: [0, 1] }),
        graph.reduceSum(graph.broadcastLike(graph.sumOfSquares(normed), normed), { axes: [0, 1] }),
      ),
      graph.div(
        graph.reduceSum(graph.mul(picked, picked), { axes: [0, 1, 2] }),
        graph.elementCount(picked, [0, 1]),
      ),
    ),
    logProbs,
  );
  const grads = gradients({ graph, loss, parameters: [x, w, m] });
  return {
    graph,
    outputs: {
      loss,
      dx: grads[0]!,
      dw: grads[1]!,
      dm: grads[2]!,
      zeros: graph.zeros([2, 2]),
    },
  };
}

const trainingConfig = {
  vocab_size: 50,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 1,
};

/** The micro recipe's model (its MLP down projection has 384 > 128 input features). */
const microConfig = {
  vocab_size: 512,
  hidden_size: 128,
  intermediate_size: 384,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
};

/** A from-scratch training graph, as the SFT stage builds it (one Gemm per projection). */
function trainingGraph(config: object = trainingConfig) {
  const model = new DecoderModel(parseLlamaConfig(config), { threadInvariantGemms: false });
  return buildCausalLmTrainingGraph({ model, lossChunks: 3 });
}

const decodeGraph = () => new DecoderModel(parseHuggingFaceConfig(decoderConfig)).buildDecodeGraph();

describe("emitted graphs", () => {
  it("together use every op in the table", () => {
    const used = new Set(
      [trainingGraph(), decodeGraph(), elementwiseGraph()].flatMap(({ graph }) =>
        graph.nodes.map((node) => node.op),
      ),
    );
    expect([...used].sort()).toEqual(Object.keys(operations).sort());
  });

  // Re-recorded when LlamaModel's graph code was folded into DecoderModel: the from-scratch
  // graph's nodes are now created in DecoderModel's order (mask before RoPE tables, each
  // key's RoPE right after its projection), which changes the ONNX bytes but not what is
  // computed: the order-free structure below is the one recorded with LlamaModel.
  it("the causal-LM training graph (forward, backward, fused losses) is unchanged", () => {
    const { graph, outputs } = trainingGraph();
    expect(sha256(emitModel({ graph, outputs, name: "causal-lm-train" }).bytes)).toBe(
      "001263ad5c56fea40e3b736004ee9bb4b017c8973ed69369b2e12e5062ee95fe",
    );
  });

  it("from-scratch training graphs compute exactly what the former LlamaModel's did", () => {
    // Recorded with LlamaModel (before the unification) for the graph above and the micro
    // recipe's model; any change to an op, its inputs or the order of a gradient sum fails.
    expect(structureOf(trainingGraph())).toBe(
      "5f2581f7ee090d635719465596810139c061947dec1041d04294fef166dcb4b9",
    );
    expect(structureOf(trainingGraph(microConfig))).toBe(
      "70beec85ad2f7c36dd0138412618bcd7bb2c6e3e02e57b66258a3c714e59279c",
    );
  });

  // Re-recorded when the cache became time-major (past fed as a view of the session's buffer,
  // only the new keys/values output): its logits are bit for bit those of the former graph
  // (bench/RESULTS.md, generate, 2026-12-06; generation.test.ts checks decoding against a
  // recompute).
  it("the KV-cache decode graph (appendSequence, lastPosition, blocked Gemms) is unchanged", () => {
    const { graph, outputs } = decodeGraph();
    expect(sha256(emitModel({ graph, outputs, name: "decode" }).bytes)).toBe(
      "a803003f5a27f32e830444a90db1e701186c09cadc61d47f979a834dc7c13ae5",
    );
  });

  it("a graph of every elementwise, shape and reduction op with its gradient is unchanged", () => {
    const { graph, outputs } = elementwiseGraph();
    expect(sha256(emitModel({ graph, outputs, name: "elementwise" }).bytes)).toBe(
      "0455b057e53bddd0c34e13ba560ce9fef335b664f4cae88f00ec168f3f25e935",
    );
  });
});
