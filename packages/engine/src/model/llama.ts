/**
 * A Llama-style decoder written once with the graph builder: RMSNorm, RoPE (rotate-half),
 * grouped-query attention with a causal + segment (packing) mask, SwiGLU MLP, tied or untied
 * LM head. Forward-only and training (forward + backward) graphs of models built from a config
 * call {@link LlamaModel.hidden}. {@link DecoderModel} (decoder.ts: pretrained checkpoints,
 * biases, rope scaling) overrides `hidden`, and its KV-cache decode graph
 * (`buildDecodeGraph`) runs `DecoderModel.layers`, not this method.
 *
 * Weights are stored `[in, out]` (a Hugging Face `[out, in]` Linear weight is transposed on
 * load); the embedding is `[vocab, hidden]` and, when tied, doubles as the LM head.
 */
import type { Random } from "@posttrain/core";
import { type Dimension, dimension, multiplyDimensions } from "../dims.js";
import type { GraphBuilder, GraphTensor } from "../graph.js";
import type { ParameterLayout } from "../parameters.js";
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

export class LlamaModel {
  constructor(readonly config: LlamaConfig) {}

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
      specs.push(
        { name: `${prefix}.input_layernorm.weight`, shape: [c.hidden_size], init: "ones" },
        { name: `${prefix}.self_attn.q_proj.weight`, shape: [c.hidden_size, attentionWidth], init: "normal" },
        { name: `${prefix}.self_attn.k_proj.weight`, shape: [c.hidden_size, keyValueWidth], init: "normal" },
        { name: `${prefix}.self_attn.v_proj.weight`, shape: [c.hidden_size, keyValueWidth], init: "normal" },
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

  /** Final hidden states `[batch, sequence, hidden]` after the last RMSNorm. */
  hidden(params: {
    graph: GraphBuilder;
    parameters: ReadonlyMap<string, GraphTensor>;
    inputs: DecoderInputs;
  }): GraphTensor {
    const { graph, inputs } = params;
    const c = this.config;
    const weight = (name: string) => params.parameters.get(name)!;
    const [batch, sequence] = inputs.inputIds.shape as [Dimension, Dimension];

    // RoPE tables [batch, 1, 1, sequence, head_dim] (broadcast over KV heads and groups).
    const half = c.head_dim / 2;
    const inverseFrequency = graph.constant({
      values: Array.from({ length: half }, (_, index) => 1 / c.rope_theta ** ((2 * index) / c.head_dim)),
      dtype: graph.floatType,
    });
    const positions = graph.reshape(graph.cast(inputs.positionIds, graph.floatType), [batch, sequence, 1]);
    const angles = graph.mul(positions, inverseFrequency); // [batch, sequence, half]
    const doubled = graph.reshape(graph.concat([angles, angles], -1), [batch, 1, 1, sequence, c.head_dim]);
    const cos = graph.cos(doubled);
    const sin = graph.sin(doubled);
    // The 1/√head_dim attention scale is folded into the query's RoPE tables (tiny tensors).
    const scale = graph.scalar(1 / Math.sqrt(c.head_dim));
    const queryCos = graph.mul(cos, scale);
    const querySin = graph.mul(sin, scale);

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

    const groups = c.num_attention_heads / c.num_key_value_heads;
    let x = graph.embedding(weight("model.embed_tokens.weight"), inputs.inputIds); // [batch, sequence, hidden]
    for (let layer = 0; layer < c.num_hidden_layers; layer += 1) {
      const prefix = `model.layers.${layer}`;
      const normed = graph.rmsNorm(x, weight(`${prefix}.input_layernorm.weight`), c.rms_norm_eps);
      // Queries [batch, kv, groups, sequence, head_dim]; keys/values [batch, kv, 1, sequence, head_dim]:
      // the grouped heads share K/V through MatMul broadcasting, never a materialised repeat.
      const query = graph.transpose(
        graph.reshape(graph.linear(normed, weight(`${prefix}.self_attn.q_proj.weight`)), [
          batch,
          sequence,
          c.num_key_value_heads,
          groups,
          c.head_dim,
        ]),
        [0, 2, 3, 1, 4],
      );
      const keyValueShape = [
        batch,
        sequence,
        dimension(c.num_key_value_heads),
        dimension(1),
        dimension(c.head_dim),
      ];
      const key = graph.transpose(
        graph.reshape(graph.linear(normed, weight(`${prefix}.self_attn.k_proj.weight`)), keyValueShape),
        [0, 2, 3, 1, 4],
      );
      const value = graph.transpose(
        graph.reshape(graph.linear(normed, weight(`${prefix}.self_attn.v_proj.weight`)), keyValueShape),
        [0, 2, 3, 1, 4],
      );
      const rotatedQuery = graph.rope(query, queryCos, querySin);
      const rotatedKey = graph.rope(key, cos, sin);
      const attended = graph.attention(rotatedQuery, rotatedKey, value, bias); // [b, kv, g, s, head_dim]
      const merged = graph.reshape(graph.transpose(attended, [0, 3, 1, 2, 4]), [
        batch,
        sequence,
        c.num_attention_heads * c.head_dim,
      ]);
      x = graph.add(x, graph.linear(merged, weight(`${prefix}.self_attn.o_proj.weight`)));

      const normedMlp = graph.rmsNorm(x, weight(`${prefix}.post_attention_layernorm.weight`), c.rms_norm_eps);
      const gate = graph.linear(normedMlp, weight(`${prefix}.mlp.gate_proj.weight`));
      const up = graph.linear(normedMlp, weight(`${prefix}.mlp.up_proj.weight`));
      x = graph.add(x, graph.linear(graph.swiglu(gate, up), weight(`${prefix}.mlp.down_proj.weight`)));
    }
    return graph.rmsNorm(x, weight("model.norm.weight"), c.rms_norm_eps);
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
   * Writes the same initial values as {@link LlamaModel.initialValues} straight into a flat
   * buffer (no per-tensor copies: at 135M parameters a copy is 0.5 GB of peak memory).
   */
  initializeFlat(params: { random: Random; layout: ParameterLayout; buffer: Float32Array }): void {
    for (const spec of this.parameterSpecs()) {
      this.initialize({ spec, random: params.random, target: params.layout.view(params.buffer, spec.name) });
    }
  }

  private initialize(params: { spec: ParameterSpec; random: Random; target: Float32Array }): void {
    const { spec, target } = params;
    if (spec.init === "ones") {
      target.fill(1);
      return;
    }
    const stream = params.random.stream(spec.name);
    for (let index = 0; index < target.length; index += 1) target[index] = 0.02 * stream.nextNormal();
  }
}
