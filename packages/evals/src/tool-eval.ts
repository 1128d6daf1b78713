/**
 * Evals with tools (issue 19): a task whose spec allows tools is generated a second time with
 * the multi-turn tool driver of @posttrain/tools — same items, prompts and sampling — and
 * scored on each rollout's last model turn (tool output is never scored).
 */
import type { ChatMessage, GenerationBackendDescription, GenerationPrompt } from "@posttrain/core";
import type { ChatTemplate } from "@posttrain/data";
import {
  builtinToolRegistry,
  type ConversationGenerator,
  createChatTemplateFormat,
  createTagFormat,
  type DriverTokenizer,
  runToolConversations,
  selectTools,
  type ToolCallFormat,
  type ToolRegistry,
  type ToolRolloutMetrics,
  tagFormatInstructions,
  toolDefinitions,
} from "@posttrain/tools";
import { EvaluationError } from "./errors.js";
import { cutAtStop } from "./scoring.js";
import type { TaskSpec, ToolUseSpec } from "./task-spec.js";

/** What a backend must offer to run tool-use evals: multi-turn generation that continues a conversation. */
export interface ToolGenerationBackend {
  tokenizer: DriverTokenizer & {
    applyChatTemplate(params: { messages: readonly ChatMessage[]; addGenerationPrompt: boolean }): string;
  };
  chatTemplate: ChatTemplate;
  eosTokenIds: readonly number[];
  /** The text of the token that ends an assistant turn (for the chat-template format). */
  endOfTurnText: string;
  /** A generator whose conversation `id` samples from its own stream of `seed`. */
  createGenerator(params: { temperature: number; topP?: number; seed: number }): ConversationGenerator;
  describe(): GenerationBackendDescription;
}

/** What the with-tools row reports besides the task's metrics. */
export interface ToolUseReport extends ToolRolloutMetrics {
  format: ToolUseSpec["format"];
  allow: string[];
  maxToolCalls: number;
}

function formatFor(params: { spec: ToolUseSpec; registry: ToolRegistry; backend: ToolGenerationBackend }): {
  format: ToolCallFormat;
  callNames: Record<string, string>;
} {
  const callNames =
    params.spec.callNames ?? Object.fromEntries([...params.registry.keys()].map((name) => [name, name]));
  if (params.spec.format === "tags")
    return { format: createTagFormat({ registry: params.registry, callNames }), callNames };
  return {
    format: createChatTemplateFormat({
      template: params.backend.chatTemplate,
      endOfTurn: params.backend.endOfTurnText,
      tools: toolDefinitions({ registry: params.registry }),
    }),
    callNames,
  };
}

/**
 * The prompt with tools: tag format — a system paragraph saying how to call the tools (the
 * spec's `instructions`, default `tagFormatInstructions`; after any system message the prompt has); chat-template format — the tool definitions go to the
 * template as `tools`. Text prompts get the paragraph in front.
 */
function toolPrompt(params: {
  prompt: GenerationPrompt;
  spec: ToolUseSpec;
  registry: ToolRegistry;
  callNames: Record<string, string>;
  backend: ToolGenerationBackend;
}): { tokenIds: number[]; messages: ChatMessage[] } {
  const { prompt, backend } = params;
  const instructions =
    params.spec.instructions ??
    tagFormatInstructions({ registry: params.registry, callNames: params.callNames });
  if (prompt.kind === "tokens")
    throw new EvaluationError({
      code: "eval_tools_unsupported",
      message: "a tool-use task needs a text or chat prompt, not token ids",
    });
  if (prompt.kind === "text") {
    const text = params.spec.format === "tags" ? `${instructions}\n\n${prompt.text}` : prompt.text;
    return { tokenIds: backend.tokenizer.encode(text, { addSpecialTokens: true }), messages: [] };
  }
  if (params.spec.format === "tags") {
    const messages: ChatMessage[] = [{ role: "system", content: instructions }, ...prompt.messages];
    const rendered = backend.tokenizer.applyChatTemplate({ messages, addGenerationPrompt: true });
    return {
      tokenIds: backend.tokenizer.encode(rendered + (prompt.assistantPrefix ?? ""), {
        addSpecialTokens: false,
      }),
      messages,
    };
  }
  const rendered = backend.chatTemplate.renderToolConversation({
    messages: prompt.messages,
    tools: toolDefinitions({ registry: params.registry }),
    addGenerationPrompt: true,
  });
  return {
    tokenIds: backend.tokenizer.encode(rendered + (prompt.assistantPrefix ?? ""), {
      addSpecialTokens: false,
    }),
    messages: [...prompt.messages],
  };
}

/**
 * Generates `samples` tool-use rollouts per prompt and returns each sample's scored text (the
 * last model turn, cut at the task's stop strings), the count of rollouts that ran out of
 * tokens, and the tool metrics.
 */
export async function generateWithTools(params: {
  task: TaskSpec;
  prompts: readonly GenerationPrompt[];
  samples: number;
  backend: ToolGenerationBackend;
  signal?: AbortSignal;
}): Promise<{ responses: string[][]; truncatedResponses: number; report: ToolUseReport }> {
  const { task, backend } = params;
  const spec = task.tools;
  if (spec === undefined)
    throw new EvaluationError({
      code: "eval_tools_unsupported",
      message: `task ${task.name} allows no tools`,
    });
  const registry = selectTools({ registry: builtinToolRegistry(), names: spec.allow });
  const { format, callNames } = formatFor({ spec, registry, backend });
  const generator = backend.createGenerator({
    temperature: task.generation.temperature,
    ...(task.generation.topP === undefined ? {} : { topP: task.generation.topP }),
    seed: task.generation.seed,
  });
  const conversations = params.prompts.flatMap((prompt) => {
    const built = toolPrompt({ prompt, spec, registry, callNames, backend });
    return Array.from({ length: params.samples }, () => ({
      promptTokenIds: built.tokenIds,
      messages: built.messages,
    }));
  });
  const { rollouts, metrics } = await runToolConversations({
    generator,
    tokenizer: backend.tokenizer,
    eosTokenIds: backend.eosTokenIds,
    registry,
    format,
    conversations,
    maxToolCalls: spec.maxToolCalls,
    maxTotalTokens: spec.maxTotalTokens ?? task.generation.maxNewTokens,
    stop: task.generation.stop,
    limits: { timeoutMilliseconds: spec.timeoutMilliseconds, maxOutputCharacters: spec.maxOutputCharacters },
    concurrency: spec.concurrency,
    ...(params.signal === undefined ? {} : { signal: params.signal }),
  });
  const responses = params.prompts.map((_, index) =>
    rollouts
      .slice(index * params.samples, (index + 1) * params.samples)
      .map((rollout) => cutAtStop({ text: rollout.finalTurnText, stop: task.generation.stop })),
  );
  return {
    responses,
    truncatedResponses: rollouts.filter(
      (rollout) => rollout.finish === "length" || rollout.finish === "budget",
    ).length,
    report: { ...metrics, format: spec.format, allow: [...spec.allow], maxToolCalls: spec.maxToolCalls },
  };
}
