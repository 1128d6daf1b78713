/**
 * The decoder, written once with the graph builder, for every model the engine trains or runs:
 * models built from scratch from a {@link LlamaConfig} and checkpoints read from Hugging Face
 * folders (Llama 3.x, SmolLM2, Qwen2/2.5, OLMo 2; see architecture.ts). RMSNorm, RoPE
 * (rotate-half, optional Llama 3 scaling), grouped-query attention with a causal + segment
 * (packing) mask, SwiGLU MLP, tied or untied LM head, plus the per-architecture parameters
 * (q/k/v bias, q/k norms, post-norms). Training and log-prob graphs call
 * {@link DecoderModel.hidden}; the KV-cache inference graph ({@link DecoderModel.buildDecodeGraph})
 * runs the same layer stack ({@link DecoderModel.layers}) with a cache appended.
 *
 * Weights are stored `[in, out]` (a Hugging Face `[out, in]` Linear weight is transposed on
 * load); the embedding is `[vocab, hidden]` and, when tied, doubles as the LM head.
 *
 * KV-cache graph (one graph serves prefill and every decode step; the past length is
 * symbolic and may be 0):
 * - inputs `input_ids`, `position_ids` `[batch, sequence]` (int64); `attention_bias`
 *   `[batch, 1, 1, sequence, total]` (float32, 0 where a query may attend a key, −1e9 where
 *   not; `total = past + sequence`); `past_key.{layer}`, `past_value.{layer}`
 *   `[past, batch, kv_heads, 1, head_dim]` (keys after RoPE), **time-major**: the cache of
 *   the first `past` positions is a prefix of a longer buffer, so the caller feeds a view of
 *   its cache buffer without copying it.
 * - outputs `logits` `[batch, vocab]` (each row's last position only), `new_key.{layer}`,
 *   `new_value.{layer}` `[sequence, batch, kv_heads, 1, head_dim]`: only the new tokens'
 *   keys/values, which the caller writes into its buffer after the past (ONNX has no in-place
 *   update; outputting the whole cache made ORT allocate it and the node binding copy it into
 *   JS every step). Inside the graph each layer concatenates past and new keys/values along
 *   time and transposes them to `[batch, kv_heads, 1, total, head_dim]` (ORT folds that
 *   transpose into attention's FusedMatMul): the logits are bit for bit those of the former
 *   `[batch, kv_heads, 1, past, head_dim]` layout, except for one key/value head at batch 1
 *   (≤ 4e-6; packages/engine/README.md, KV cache).
 */
import type { Random } from "@posttrain/core";
import { type Dimension, dimension, multiplyDimensions } from "../dims.js";
import { GraphBuilder, type GraphTensor } from "../graph.js";
import type { ParameterLayout } from "../parameters.js";
import { type DecoderConfig, decoderConfigFromLlama, ropeInverseFrequencies } from "./architecture.js";
import type { LlamaConfig } from "./llama-config.js";

/** A named parameter with its shape and initialiser. */
export interface ParameterSpec {
  name: string;
  shape: readonly number[];
  /** `normal`: N(0, 0.02²); `ones`: RMSNorm gains. */
  init: "normal" | "ones";
}

/** The data inputs of a decoder graph (all `[batch, sequence]`). */
export interface DecoderInputs {
  inputIds: GraphTensor;
  /** Position of each token inside its sequence (restarts at 0 for each packed segment). */
  positionIds: GraphTensor;
  /** Packed-sequence id of each token; tokens attend only within their segment. */
  segmentIds: GraphTensor;
}

/** How a {@link DecoderModel} builds its graphs. */
export interface DecoderModelOptions {
  /**
   * Split every Gemm of the layer stack (and the decode graph's LM head) into blocks of at most
   * {@link threadInvariantInnerBlock} input features, so few-row products (decode steps,
   * scoring, RLVR) sum in the same order with any thread count. Default true. `false` keeps
   * one Gemm per projection: the from-scratch SFT/DPO training graphs, whose floats the
   * micro recipe's published numbers were recorded with (on their many-row batches the two
   * agree bit for bit; on a 16-row batch with 2 threads they differ by up to 1.5e-7).
   */
  threadInvariantGemms?: boolean;
}

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

/** One layer's keys and values (time-major in the decode graph: `[length, batch, kv_heads, 1, head_dim]`). */
interface LayerCache {
  key: GraphTensor;
  value: GraphTensor;
}

export class DecoderModel {
  readonly config: DecoderConfig;
  /** `GraphBuilder.linear`'s options for the layer stack's Gemms (see {@link DecoderModelOptions}). */
  private readonly blocked: { innerBlock?: number };

  /**
   * A decoder for `config`: a {@link DecoderConfig} (from {@link parseHuggingFaceConfig}) or a
   * from-scratch {@link LlamaConfig}, read as a `LlamaForCausalLM` config.
   */
  constructor(config: DecoderConfig | LlamaConfig, options: DecoderModelOptions = {}) {
    this.config = "architecture" in config ? (config as DecoderConfig) : decoderConfigFromLlama(config);
    this.blocked = (options.threadInvariantGemms ?? true) ? { innerBlock: threadInvariantInnerBlock } : {};
  }

  /** Every parameter, in a fixed order (this order is the flat-buffer layout). */
  parameterSpecs(): ParameterSpec[] {
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

  /** Total number of parameters. */
  parameterCount(): number {
    return this.parameterSpecs().reduce((total, spec) => total + spec.shape.reduce((a, b) => a * b, 1), 0);
  }

  /** Declares every parameter as a graph input. */
  declareParameters(graph: GraphBuilder): Map<string, GraphTensor> {
    return new Map(
      this.parameterSpecs().map((spec) => [
        spec.name,
        graph.parameter({ name: spec.name, shape: spec.shape }),
      ]),
    );
  }

  /** Declares the `[batch, sequence]` int64 data inputs. */
  declareInputs(graph: GraphBuilder): DecoderInputs {
    const shape = ["batch", "sequence"];
    return {
      inputIds: graph.input({ name: "input_ids", dtype: "int64", shape }),
      positionIds: graph.input({ name: "position_ids", dtype: "int64", shape }),
      segmentIds: graph.input({ name: "segment_ids", dtype: "int64", shape }),
    };
  }

  /** The LM head weight and whether it is stored `[vocab, hidden]` (tied). */
  lmHead(parameters: ReadonlyMap<string, GraphTensor>): { weight: GraphTensor; transposeWeight: boolean } {
    return this.config.tie_word_embeddings
      ? { weight: parameters.get("model.embed_tokens.weight")!, transposeWeight: true }
      : { weight: parameters.get("lm_head.weight")!, transposeWeight: false };
  }

  /** Final hidden states `[batch, sequence, hidden]` for packed/padded full sequences (training and log-prob graphs). */
  hidden(params: {
    graph: GraphBuilder;
    parameters: ReadonlyMap<string, GraphTensor>;
    inputs: DecoderInputs;
  }): GraphTensor {
    const { graph, inputs } = params;
    const [batch, sequence] = inputs.inputIds.shape as [Dimension, Dimension];
    // Additive mask [batch, 1, 1, sequence, sequence]: same segment and key position ≤ query position.
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

  /** Full logits `[batch, sequence, vocab]` (forward-only use: evaluation, parity tests). */
  logits(params: {
    graph: GraphBuilder;
    parameters: ReadonlyMap<string, GraphTensor>;
    inputs: DecoderInputs;
  }): GraphTensor {
    const head = this.lmHead(params.parameters);
    return params.graph.linear(this.hidden(params), head.weight, { transposeWeight: head.transposeWeight });
  }

  /**
   * Per-token log-probabilities of `labels [batch, sequence]` through the chunked fused LM
   * head (the full logits never exist at once).
   */
  tokenLogProbs(params: {
    graph: GraphBuilder;
    parameters: ReadonlyMap<string, GraphTensor>;
    inputs: DecoderInputs;
    labels: GraphTensor;
    chunks: number;
  }): GraphTensor {
    const { graph } = params;
    const hidden = this.hidden(params);
    const [batch, sequence] = params.inputs.inputIds.shape as [Dimension, Dimension];
    const rows = multiplyDimensions(batch, sequence);
    const head = this.lmHead(params.parameters);
    const logProbs = graph.chunkedTokenLogProbs(
      graph.reshape(hidden, [rows, this.config.hidden_size]),
      head.weight,
      graph.reshape(params.labels, [rows]),
      { chunks: params.chunks, transposeWeight: head.transposeWeight },
    );
    return graph.reshape(logProbs, [batch, sequence]);
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
    const cacheShape = ["past", "batch", c.num_key_value_heads, 1, c.head_dim];
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
      logits: graph.linear(last, head.weight, { transposeWeight: head.transposeWeight, ...this.blocked }),
    };
    present.forEach((cache, layer) => {
      outputs[`new_key.${layer}`] = cache.key;
      outputs[`new_value.${layer}`] = cache.value;
    });
    return { graph, outputs };
  }

  /** Initial parameter values from `random` (one named stream per parameter), in spec order. */
  initialValues(random: Random): Map<string, Float32Array> {
    const values = new Map<string, Float32Array>();
    for (const spec of this.parameterSpecs()) {
      const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
      this.initialize({ spec, random, target: data });
      values.set(spec.name, data);
    }
    return values;
  }

  /**
   * Writes the same initial values as {@link DecoderModel.initialValues} straight into a flat
   * buffer (no per-tensor copies: at 135M parameters a copy is 0.5 GB of peak memory).
   */
  initializeFlat(params: { random: Random; layout: ParameterLayout; buffer: Float32Array }): void {
    for (const spec of this.parameterSpecs()) {
      this.initialize({ spec, random: params.random, target: params.layout.view(params.buffer, spec.name) });
    }
  }

  /**
   * N(0, 0.02²) weights and unit norm gains, one named stream per parameter; projection biases
   * are zero (as Hugging Face initialises them; their stream is drawn from all the same).
   */
  private initialize(params: { spec: ParameterSpec; random: Random; target: Float32Array }): void {
    const { spec, target } = params;
    if (spec.init === "ones") {
      target.fill(1);
      return;
    }
    const stream = params.random.stream(spec.name);
    for (let index = 0; index < target.length; index += 1) target[index] = 0.02 * stream.nextNormal();
    if (spec.name.endsWith(".bias")) target.fill(0);
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
   * The decoder stack on embedded tokens `x [batch, sequence, hidden]`. With `past` (time-major
   * `[past, batch, kv_heads, 1, head_dim]`), each layer's new keys/values are appended to the
   * past ones (length symbol `total`) and attention reads them transposed to
   * `[batch, kv_heads, 1, total, head_dim]`; `present` holds each layer's new keys/values,
   * time-major `[sequence, batch, kv_heads, 1, head_dim]` (empty without `past`).
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
        let projected = graph.linear(input, weight(`${prefix}.self_attn.${name}_proj.weight`), this.blocked);
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
        // [batch, kv, 1, sequence, d] → time-major [sequence, batch, kv, 1, d], appended to the
        // past along time, then back to [batch, kv, 1, total, d] for attention.
        const newKey = graph.transpose(key, [3, 0, 1, 2, 4]);
        const newValue = graph.transpose(value, [3, 0, 1, 2, 4]);
        present.push({ key: newKey, value: newValue });
        const append = (cache: GraphTensor, next: GraphTensor) =>
          graph.transpose(
            graph.apply("appendSequence", [cache, next], { axis: 0, resultSymbol: "total" })[0]!,
            [1, 2, 3, 0, 4],
          );
        key = append(past.key, newKey);
        value = append(past.value, newValue);
      }
      const rotatedQuery = graph.rope(query, rope.queryCos, rope.querySin);
      const attended = graph.attention(rotatedQuery, key, value, bias);
      const merged = graph.reshape(graph.transpose(attended, [0, 3, 1, 2, 4]), [
        batch,
        sequence,
        c.num_attention_heads * c.head_dim,
      ]);
      const attention = graph.linear(merged, weight(`${prefix}.self_attn.o_proj.weight`), this.blocked);
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
    const gate = graph.linear(input, weight(`${prefix}.mlp.gate_proj.weight`), this.blocked);
    const up = graph.linear(input, weight(`${prefix}.mlp.up_proj.weight`), this.blocked);
    return graph.linear(graph.swiglu(gate, up), weight(`${prefix}.mlp.down_proj.weight`), this.blocked);
  }
}
