/**
 * The decoder family read from Hugging Face checkpoints (Llama 3.x, SmolLM2, Qwen2/2.5,
 * OLMo 2; see architecture.ts). {@link DecoderModel} extends {@link LlamaModel}, so the
 * trainer, `tokenLogProbs` and `logits` work unchanged on every architecture; it adds the
 * per-architecture parameters (q/k/v bias, q/k norms, post-norms), Llama 3 RoPE scaling, and
 * an inference graph with a KV cache ({@link DecoderModel.buildDecodeGraph}).
 *
 * KV-cache graph (one graph serves prefill and every decode step; the past length is
 * symbolic and may be 0):
 * - inputs `input_ids`, `position_ids` `[batch, sequence]` (int64); `attention_bias`
 *   `[batch, 1, 1, sequence, total]` (float32, 0 where a query may attend a key, −1e9 where
 *   not; `total = past + sequence`); `past_key.{layer}`, `past_value.{layer}`
 *   `[batch, kv_heads, 1, past, head_dim]` (keys after RoPE).
 * - outputs `logits` `[batch, vocab]` (each row's last position only), `present_key.{layer}`,
 *   `present_value.{layer}` `[batch, kv_heads, 1, total, head_dim]` (past with the new
 *   tokens appended: ONNX has no in-place update, so ORT writes a new cache tensor each step).
 */
import type { Random } from "@posttrain/core";
import { type Dimension, dimension } from "../dims.js";
import { GraphBuilder, type GraphTensor } from "../graph.js";
import type { ParameterLayout } from "../parameters.js";
import { type DecoderConfig, ropeInverseFrequencies } from "./architecture.js";
import { type DecoderInputs, LlamaModel, type ParameterSpec } from "./llama.js";

/**
 * The widest input block of one Gemm in the decoder's graphs (`GraphBuilder.linear`'s
 * `innerBlock`). onnxruntime's MLAS SGEMM splits a Gemm among threads along M (rows) or, when
 * the output is wider than tall, along N; within a thread it walks K in strides of 128, but a
 * thread's N slice of ≤ 64 columns doubles that stride (≤ 32: quadruples it). So a Gemm with
 * K > 128 and few rows (a decode step, a one-completion scoring batch, a short prefill) sums
 * each output in a different order with 1, 2 or 4 threads, and the RLVR stage (sampling,
 * old/reference log-probs) and greedy evals differed across thread counts by ~1e-6 from the
 * first step. With K ≤ 128 per Gemm every output is one kernel dot product, whatever the
 * partition (model/decoder.test.ts checks 1, 2 and 4 threads bit for bit).
 */
export const threadInvariantInnerBlock = 128;

/** Rotary tables `[batch, 1, 1, sequence, head_dim]`; the query's carry the 1/√head_dim scale. */
interface RopeTables {
  cos: GraphTensor;
  sin: GraphTensor;
  queryCos: GraphTensor;
  querySin: GraphTensor;
}

const blocked = { innerBlock: threadInvariantInnerBlock };

/** One layer's keys and values as used by attention (`[batch, kv_heads, 1, length, head_dim]`). */
interface LayerCache {
  key: GraphTensor;
  value: GraphTensor;
}

export class DecoderModel extends LlamaModel {
  declare readonly config: DecoderConfig;

  constructor(config: DecoderConfig) {
    super(config);
  }

  override parameterSpecs(): ParameterSpec[] {
    const c = this.config;
    const attentionWidth = c.num_attention_heads * c.head_dim;
    const keyValueWidth = c.num_key_value_heads * c.head_dim;
    const specs: ParameterSpec[] = [
      { name: "model.embed_tokens.weight", shape: [c.vocab_size, c.hidden_size], init: "normal" },
    ];
    for (let layer = 0; layer < c.num_hidden_layers; layer += 1) {
      const prefix = `model.layers.${layer}`;
      if (c.normPlacement === "pre")
        specs.push({ name: `${prefix}.input_layernorm.weight`, shape: [c.hidden_size], init: "ones" });
      specs.push(
        { name: `${prefix}.self_attn.q_proj.weight`, shape: [c.hidden_size, attentionWidth], init: "normal" },
        { name: `${prefix}.self_attn.k_proj.weight`, shape: [c.hidden_size, keyValueWidth], init: "normal" },
        { name: `${prefix}.self_attn.v_proj.weight`, shape: [c.hidden_size, keyValueWidth], init: "normal" },
      );
      if (c.queryKeyValueBias) {
        specs.push(
          { name: `${prefix}.self_attn.q_proj.bias`, shape: [attentionWidth], init: "normal" },
          { name: `${prefix}.self_attn.k_proj.bias`, shape: [keyValueWidth], init: "normal" },
          { name: `${prefix}.self_attn.v_proj.bias`, shape: [keyValueWidth], init: "normal" },
        );
      }
      if (c.queryKeyNorm) {
        specs.push(
          { name: `${prefix}.self_attn.q_norm.weight`, shape: [attentionWidth], init: "ones" },
          { name: `${prefix}.self_attn.k_norm.weight`, shape: [keyValueWidth], init: "ones" },
        );
      }
      specs.push(
        { name: `${prefix}.self_attn.o_proj.weight`, shape: [attentionWidth, c.hidden_size], init: "normal" },
        { name: `${prefix}.post_attention_layernorm.weight`, shape: [c.hidden_size], init: "ones" },
        {
          name: `${prefix}.mlp.gate_proj.weight`,
          shape: [c.hidden_size, c.intermediate_size],
          init: "normal",
        },
        { name: `${prefix}.mlp.up_proj.weight`, shape: [c.hidden_size, c.intermediate_size], init: "normal" },
        {
          name: `${prefix}.mlp.down_proj.weight`,
          shape: [c.intermediate_size, c.hidden_size],
          init: "normal",
        },
      );
      if (c.normPlacement === "post")
        specs.push({
          name: `${prefix}.post_feedforward_layernorm.weight`,
          shape: [c.hidden_size],
          init: "ones",
        });
    }
    specs.push({ name: "model.norm.weight", shape: [c.hidden_size], init: "ones" });
    if (!c.tie_word_embeddings)
      specs.push({ name: "lm_head.weight", shape: [c.hidden_size, c.vocab_size], init: "normal" });
    return specs;
  }

  /** As {@link LlamaModel.initialValues}, with projection biases zero (as Hugging Face initialises them). */
  override initialValues(random: Random): Map<string, Float32Array> {
    const values = super.initialValues(random);
    for (const [name, value] of values) if (name.endsWith(".bias")) value.fill(0);
    return values;
  }

  override initializeFlat(params: { random: Random; layout: ParameterLayout; buffer: Float32Array }): void {
    super.initializeFlat(params);
    for (const spec of this.parameterSpecs())
      if (spec.name.endsWith(".bias")) params.layout.view(params.buffer, spec.name).fill(0);
  }

  private ropeTables(graph: GraphBuilder, positionIds: GraphTensor): RopeTables {
    const c = this.config;
    const [batch, sequence] = positionIds.shape as [Dimension, Dimension];
    const inverseFrequency = graph.constant({ values: ropeInverseFrequencies(c), dtype: graph.floatType });
    const positions = graph.reshape(graph.cast(positionIds, graph.floatType), [batch, sequence, 1]);
    const angles = graph.mul(positions, inverseFrequency);
    const doubled = graph.reshape(graph.concat([angles, angles], -1), [batch, 1, 1, sequence, c.head_dim]);
    const cos = graph.cos(doubled);
    const sin = graph.sin(doubled);
    const scale = graph.scalar(1 / Math.sqrt(c.head_dim));
    return { cos, sin, queryCos: graph.mul(cos, scale), querySin: graph.mul(sin, scale) };
  }

  /**
   * The decoder stack on embedded tokens `x [batch, sequence, hidden]`. With `past`, each
   * layer's new keys/values are appended to the past ones (length symbol `total`); the keys
   * and values each layer attended to are returned (the present cache).
   */
  private layers(params: {
    graph: GraphBuilder;
    parameters: ReadonlyMap<string, GraphTensor>;
    x: GraphTensor;
    rope: RopeTables;
    bias: GraphTensor;
    past?: readonly LayerCache[];
  }): { hidden: GraphTensor; present: LayerCache[] } {
    const { graph, rope, bias } = params;
    const c = this.config;
    const weight = (name: string) => {
      const tensor = params.parameters.get(name);
      if (tensor === undefined) throw new Error(`parameter ${name} is not declared`);
      return tensor;
    };
    const [batch, sequence] = params.x.shape as [Dimension, Dimension];
    const groups = c.num_attention_heads / c.num_key_value_heads;
    const present: LayerCache[] = [];
    let x = params.x;
    for (let layer = 0; layer < c.num_hidden_layers; layer += 1) {
      const prefix = `model.layers.${layer}`;
      const input =
        c.normPlacement === "pre"
          ? graph.rmsNorm(x, weight(`${prefix}.input_layernorm.weight`), c.rms_norm_eps)
          : x;
      const project = (name: "q" | "k" | "v") => {
        let projected = graph.linear(input, weight(`${prefix}.self_attn.${name}_proj.weight`), blocked);
        if (c.queryKeyValueBias)
          projected = graph.add(projected, weight(`${prefix}.self_attn.${name}_proj.bias`));
        if (c.queryKeyNorm && name !== "v")
          projected = graph.rmsNorm(
            projected,
            weight(`${prefix}.self_attn.${name}_norm.weight`),
            c.rms_norm_eps,
          );
        return projected;
      };
      const query = graph.transpose(
        graph.reshape(project("q"), [batch, sequence, c.num_key_value_heads, groups, c.head_dim]),
        [0, 2, 3, 1, 4],
      );
      const keyValueShape = [
        batch,
        sequence,
        dimension(c.num_key_value_heads),
        dimension(1),
        dimension(c.head_dim),
      ];
      let key = graph.rope(
        graph.transpose(graph.reshape(project("k"), keyValueShape), [0, 2, 3, 1, 4]),
        rope.cos,
        rope.sin,
      );
      let value = graph.transpose(graph.reshape(project("v"), keyValueShape), [0, 2, 3, 1, 4]);
      const past = params.past?.[layer];
      if (past !== undefined) {
        key = graph.apply("appendSequence", [past.key, key], { axis: 3, resultSymbol: "total" })[0]!;
        value = graph.apply("appendSequence", [past.value, value], { axis: 3, resultSymbol: "total" })[0]!;
      }
      present.push({ key, value });
      const rotatedQuery = graph.rope(query, rope.queryCos, rope.querySin);
      const attended = graph.attention(rotatedQuery, key, value, bias);
      const merged = graph.reshape(graph.transpose(attended, [0, 3, 1, 2, 4]), [
        batch,
        sequence,
        c.num_attention_heads * c.head_dim,
      ]);
      const attention = graph.linear(merged, weight(`${prefix}.self_attn.o_proj.weight`), blocked);
      const postAttentionNorm = weight(`${prefix}.post_attention_layernorm.weight`);
      if (c.normPlacement === "pre") {
        x = graph.add(x, attention);
        const normed = graph.rmsNorm(x, postAttentionNorm, c.rms_norm_eps);
        x = graph.add(x, this.mlp(graph, weight, prefix, normed));
      } else {
        x = graph.add(x, graph.rmsNorm(attention, postAttentionNorm, c.rms_norm_eps));
        const feedForward = this.mlp(graph, weight, prefix, x);
        x = graph.add(
          x,
          graph.rmsNorm(feedForward, weight(`${prefix}.post_feedforward_layernorm.weight`), c.rms_norm_eps),
        );
      }
    }
    return { hidden: graph.rmsNorm(x, weight("model.norm.weight"), c.rms_norm_eps), present };
  }

  private mlp(
    graph: GraphBuilder,
    weight: (name: string) => GraphTensor,
    prefix: string,
    input: GraphTensor,
  ): GraphTensor {
    const gate = graph.linear(input, weight(`${prefix}.mlp.gate_proj.weight`), blocked);
    const up = graph.linear(input, weight(`${prefix}.mlp.up_proj.weight`), blocked);
    return graph.linear(graph.swiglu(gate, up), weight(`${prefix}.mlp.down_proj.weight`), blocked);
  }

  /** Final hidden states for packed/padded full sequences (training and log-prob graphs). */
  override hidden(params: {
    graph: GraphBuilder;
    parameters: ReadonlyMap<string, GraphTensor>;
    inputs: DecoderInputs;
  }): GraphTensor {
    const { graph, inputs } = params;
    const [batch, sequence] = inputs.inputIds.shape as [Dimension, Dimension];
    const segmentQuery = graph.reshape(inputs.segmentIds, [batch, sequence, 1]);
    const segmentKey = graph.reshape(inputs.segmentIds, [batch, 1, sequence]);
    const positionQuery = graph.reshape(inputs.positionIds, [batch, sequence, 1]);
    const positionKey = graph.reshape(inputs.positionIds, [batch, 1, sequence]);
    const allowed = graph.and(
      graph.equal(segmentQuery, segmentKey),
      graph.lessOrEqual(positionKey, positionQuery),
    );
    const bias = graph.reshape(graph.where(allowed, graph.scalar(0), graph.scalar(-1e9)), [
      batch,
      1,
      1,
      sequence,
      sequence,
    ]);
    const x = graph.embedding(params.parameters.get("model.embed_tokens.weight")!, inputs.inputIds);
    return this.layers({
      graph,
      parameters: params.parameters,
      x,
      rope: this.ropeTables(graph, inputs.positionIds),
      bias,
    }).hidden;
  }

  /** The KV-cache inference graph described in the module comment. */
  buildDecodeGraph(): { graph: GraphBuilder; outputs: Record<string, GraphTensor> } {
    const c = this.config;
    const graph = new GraphBuilder();
    const parameters = this.declareParameters(graph);
    const inputIds = graph.input({ name: "input_ids", dtype: "int64", shape: ["batch", "sequence"] });
    const positionIds = graph.input({ name: "position_ids", dtype: "int64", shape: ["batch", "sequence"] });
    const bias = graph.input({
      name: "attention_bias",
      dtype: "float32",
      shape: ["batch", 1, 1, "sequence", "total"],
    });
    const cacheShape = ["batch", c.num_key_value_heads, 1, "past", c.head_dim];
    const past: LayerCache[] = [];
    for (let layer = 0; layer < c.num_hidden_layers; layer += 1) {
      past.push({
        key: graph.input({ name: `past_key.${layer}`, dtype: "float32", shape: cacheShape }),
        value: graph.input({ name: `past_value.${layer}`, dtype: "float32", shape: cacheShape }),
      });
    }
    const x = graph.embedding(parameters.get("model.embed_tokens.weight")!, inputIds);
    const { hidden, present } = this.layers({
      graph,
      parameters,
      x,
      rope: this.ropeTables(graph, positionIds),
      bias,
      past,
    });
    const last = graph.reshape(graph.apply("lastPosition", [hidden])[0]!, ["batch", c.hidden_size]);
    const head = this.lmHead(parameters);
    const outputs: Record<string, GraphTensor> = {
      logits: graph.linear(last, head.weight, { transposeWeight: head.transposeWeight, ...blocked }),
    };
    present.forEach((cache, layer) => {
      outputs[`present_key.${layer}`] = cache.key;
      outputs[`present_value.${layer}`] = cache.value;
    });
    return { graph, outputs };
  }
}
