/**
 * RLVR step, part 1 with tools (issue 19): multi-turn rollouts through @posttrain/tools'
 * `runToolConversations`. Each completion is the model's turns and the tool outputs between
 * them; `completionMask` is 1 on the model's tokens and 0 on every token the driver appended
 * (the wrapped tool output and any template text after it), so the loss, the KL term and every
 * per-token statistic skip them. The text a verifier scores is the model's final turn only.
 *
 * Sampling is seeded per step like single-turn rollouts: conversation `id` = group ×
 * samplesPerPrompt + sample samples from `Random.fromSeed(seed).stream("request <group>")
 * .stream("sample <sample>")`, the stream the embedded backend gives that sample — same seed,
 * same rollouts.
 */
import { Random } from "@posttrain/core";
import type { ChatTemplate } from "@posttrain/data";
import {
  ConversationDecoder,
  DecodingSession,
  type GenerationTokenizer,
  type PretrainedModel,
} from "@posttrain/engine";
import {
  builtinToolRegistry,
  type ConversationGenerator,
  createChatTemplateFormat,
  createTagFormat,
  runToolConversations,
  selectTools,
  type ToolCallFormat,
  type ToolRegistry,
  type ToolRolloutMetrics,
  type ToolUseConfig,
  tagFormatInstructions,
  toolDefinitions,
} from "@posttrain/tools";
import { TrainError } from "@posttrain/training";
import type { RlvrRow } from "./prompts.js";
import type { RolloutCompletion } from "./rollout.js";

/** The registry, format and bounds a tool-use stage runs with (built once per run). */
export interface ToolUse {
  config: ToolUseConfig;
  registry: ToolRegistry;
  format: ToolCallFormat;
  /** Tag format: call name → tool. */
  callNames: Record<string, string>;
  /** What a prompt should say for the model to know the tools (see {@link promptsMentionTools}). */
  instructions: string;
}

/** A tokenizer that may carry its chat template (@posttrain/data's does; the chat-template format needs it). */
type MaybeTemplatedTokenizer = GenerationTokenizer & { chatTemplate?: ChatTemplate };

/** Resolves `tools` of the rlvr config against the built-in registry; an unknown tool or format setup is a `TrainError`. */
export function createToolUse(params: { config: ToolUseConfig; tokenizer: GenerationTokenizer }): ToolUse {
  const { config } = params;
  let registry: ToolRegistry;
  try {
    registry = selectTools({ registry: builtinToolRegistry(), names: config.allow });
  } catch (error) {
    throw new TrainError({
      code: "train_config_invalid",
      message: `rlvr config tools.allow: ${(error as Error).message}`,
    });
  }
  const callNames = config.callNames ?? Object.fromEntries([...registry.keys()].map((name) => [name, name]));
  for (const [callName, tool] of Object.entries(callNames))
    if (!registry.has(tool))
      throw new TrainError({
        code: "train_config_invalid",
        message: `rlvr config tools.callNames.${callName}: "${tool}" is not one of tools.allow (${config.allow.join(", ")})`,
      });
  if (config.format === "tags")
    return {
      config,
      registry,
      format: createTagFormat({ registry, callNames }),
      callNames,
      instructions: tagFormatInstructions({ registry, callNames }),
    };
  const template = (params.tokenizer as MaybeTemplatedTokenizer).chatTemplate;
  if (template === undefined || typeof template.renderToolConversation !== "function")
    throw new TrainError({
      code: "train_config_invalid",
      message:
        'rlvr config tools.format "chat_template" needs the tokenizer\'s chat template (a tokenizer folder loaded by @posttrain/data); use "tags" otherwise',
    });
  const endOfTurnId = params.tokenizer.eosTokenIds[0];
  const endOfTurn =
    endOfTurnId === undefined ? "" : params.tokenizer.decode([endOfTurnId], { skipSpecialTokens: false });
  return {
    config,
    registry,
    format: createChatTemplateFormat({ template, endOfTurn, tools: toolDefinitions({ registry }) }),
    callNames,
    instructions: [...registry.keys()].join(", "),
  };
}

/**
 * Whether a prompt tells the model about the tools: tag format — it contains every call's
 * opening tag (`<calculator>`), as `tagFormatInstructions` in a system message does; chat
 * template — it names every tool (the template's tool definitions). Prompts are token ids
 * prepared with the dataset, so rlvr cannot add the text itself; it warns instead.
 */
export function promptsMentionTools(params: { toolUse: ToolUse; promptText: string }): boolean {
  const { toolUse, promptText } = params;
  if (toolUse.config.format === "tags")
    return Object.keys(toolUse.callNames).every((callName) => promptText.includes(`<${callName}>`));
  return [...toolUse.registry.keys()].every((name) => promptText.includes(name));
}

/**
 * The embedded multi-turn generator over the live policy: one `DecodingSession` (its feeds
 * read the policy's parameter buffer, updated in place by the optimizer) and, per step, a
 * `ConversationDecoder` whose conversations keep their KV cache across turns.
 */
export function createEmbeddedConversationGenerators(params: {
  policy: PretrainedModel;
  tokenizer: GenerationTokenizer;
  threads: number;
}): (params: {
  seed: number;
  temperature: number;
  samplesPerPrompt: number;
}) => Promise<ConversationGenerator> {
  let session: Promise<DecodingSession> | undefined;
  return async ({ seed, temperature, samplesPerPrompt }) => {
    session ??= DecodingSession.create({ model: params.policy, threads: params.threads });
    const decoder = ConversationDecoder.create({
      session: await session,
      tokenizer: params.tokenizer,
      sampling: { temperature },
      randomFor: (id) => conversationRandom({ seed, id, samplesPerPrompt }),
    });
    return {
      generateTurns: (request) => decoder.generateTurns(request),
      release: (request) => decoder.release(request),
    };
  };
}

/** Conversation `id`'s random stream: the embedded backend's stream of (request, sample). */
export function conversationRandom(params: { seed: number; id: number; samplesPerPrompt: number }): Random {
  const group = Math.floor(params.id / params.samplesPerPrompt);
  const sample = params.id % params.samplesPerPrompt;
  return Random.fromSeed(params.seed).stream(`request ${group}`).stream(`sample ${sample}`);
}

/** A tool-use rollout completion: the single-turn fields plus what the tools did. */
export interface ToolRolloutCompletion extends RolloutCompletion {
  toolCalls: number;
  toolErrors: number;
}

/**
 * `samplesPerPrompt` tool-use rollouts of every prompt (conversation ids group-major), each
 * bounded by `tools.maxToolCalls` calls and `tools.maxTotalTokens` response tokens (default
 * `maxNewTokens`), one turn at most `maxNewTokens` tokens.
 */
export async function toolRollout(params: {
  generator: ConversationGenerator;
  tokenizer: GenerationTokenizer;
  eosTokenIds: readonly number[];
  toolUse: ToolUse;
  prompts: readonly RlvrRow[];
  samplesPerPrompt: number;
  maxNewTokens: number;
  signal?: AbortSignal;
}): Promise<{ completions: ToolRolloutCompletion[]; metrics: ToolRolloutMetrics }> {
  const { toolUse } = params;
  const config = toolUse.config;
  const conversations = params.prompts.flatMap((row) =>
    Array.from({ length: params.samplesPerPrompt }, () => ({ promptTokenIds: [...row.promptIds] })),
  );
  const { rollouts, metrics } = await runToolConversations({
    generator: params.generator,
    tokenizer: {
      encode: (text, options) => params.tokenizer.encode(text, options),
      decode: (ids, options) => (ids.length === 0 ? "" : params.tokenizer.decode(ids, options)),
    },
    eosTokenIds: params.eosTokenIds,
    registry: toolUse.registry,
    format: toolUse.format,
    conversations,
    maxToolCalls: config.maxToolCalls,
    maxTotalTokens: config.maxTotalTokens ?? params.maxNewTokens,
    maxTurnTokens: params.maxNewTokens,
    limits: {
      timeoutMilliseconds: config.timeoutMilliseconds,
      maxOutputCharacters: config.maxOutputCharacters,
    },
    concurrency: config.concurrency,
    ...(params.signal === undefined ? {} : { signal: params.signal }),
  });
  const completions = rollouts.map((rollout, index): ToolRolloutCompletion => {
    const group = Math.floor(index / params.samplesPerPrompt);
    return {
      row: params.prompts[group]!,
      group,
      completionIds: rollout.responseTokenIds,
      completionMask: Uint8Array.from(rollout.responseMask),
      samplingLogProbs: rollout.samplingLogProbs,
      text: rollout.finalTurnText,
      truncated: rollout.finish === "length" || rollout.finish === "budget",
      toolCalls: rollout.toolCalls,
      toolErrors: rollout.observations.filter((observation) => observation.errorKind !== null).length,
    };
  });
  return { completions, metrics };
}
