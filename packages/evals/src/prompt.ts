/**
 * Prompt rendering (OLMES conventions, see ../shared/reference/evals.md):
 * - chat: few-shot exemplars become alternating turns — user = the template applied to the
 *   exemplar question, assistant = (assistant prefix + " " + target) with both stripped, or the
 *   stripped target when there is no prefix — then the item's user turn; the assistant prefix
 *   is sent as `assistantPrefix` (appended raw after the chat template's generation prompt).
 * - completion: exemplars and the item joined with "\n\n" as one text; each exemplar is
 *   template + ("\n" + prefix when there is one) + " " + target, and the item ends with the prefix
 *   (lm-evaluation-harness delimiters: target " ", few-shot "\n\n").
 */
import type { ChatMessage, GenerationPrompt } from "@posttrain/core";
import { EvaluationError } from "./errors.js";
import { type Exemplar, exemplarSets } from "./exemplars.js";
import type { EvalItem } from "./items.js";
import type { PromptSpec } from "./task-spec.js";

/** Replaces every `{question}` in `template` (no other placeholder exists, so braces in LaTeX are safe). */
export function fillTemplate(params: { template: string; question: string }): string {
  return params.template.split("{question}").join(params.question);
}

/** The first `shots` exemplars of the spec's set; throws when the set is unknown or too small. */
export function selectExemplars(params: { prompt: PromptSpec }): readonly Exemplar[] {
  const { prompt } = params;
  if (prompt.shots === 0) return [];
  if (prompt.exemplars === undefined) {
    throw new EvaluationError({
      code: "eval_invalid_task_spec",
      message: `prompt.shots is ${prompt.shots} but prompt.exemplars names no exemplar set`,
    });
  }
  const set = exemplarSets[prompt.exemplars];
  if (set === undefined) {
    throw new EvaluationError({
      code: "eval_invalid_task_spec",
      message: `unknown exemplar set "${prompt.exemplars}" (known: ${Object.keys(exemplarSets).join(", ")})`,
    });
  }
  if (set.length < prompt.shots) {
    throw new EvaluationError({
      code: "eval_invalid_task_spec",
      message: `exemplar set "${prompt.exemplars}" has ${set.length} exemplars, ${prompt.shots} requested`,
    });
  }
  return set.slice(0, prompt.shots);
}

/** The generation prompt for one item. */
export function renderPrompt(params: { prompt: PromptSpec; item: EvalItem }): GenerationPrompt {
  const { prompt, item } = params;
  const prefix =
    prompt.assistantPrefix === undefined
      ? undefined
      : fillTemplate({ template: prompt.assistantPrefix, question: item.question });
  if (item.messages !== undefined) {
    if (prompt.style === "completion") {
      throw new EvaluationError({
        code: "eval_invalid_task_spec",
        message: "rows with messages need prompt.style 'chat' (a chat template renders them)",
      });
    }
    return {
      kind: "chat",
      messages: item.messages,
      ...(prefix === undefined ? {} : { assistantPrefix: prefix }),
    };
  }
  const exemplars = selectExemplars({ prompt });
  if (prompt.style === "chat") {
    const exemplarPrefix =
      prompt.assistantPrefix === undefined ? undefined : prompt.assistantPrefix.split("{question}").join("");
    const messages: ChatMessage[] = [];
    for (const exemplar of exemplars) {
      messages.push({
        role: "user",
        content: fillTemplate({ template: prompt.template, question: exemplar.question }),
      });
      const target = exemplar.target.trim();
      messages.push({
        role: "assistant",
        content:
          exemplarPrefix === undefined || exemplarPrefix.trim() === ""
            ? target
            : `${exemplarPrefix.trim()} ${target}`,
      });
    }
    messages.push({
      role: "user",
      content: fillTemplate({ template: prompt.template, question: item.question }),
    });
    return { kind: "chat", messages, ...(prefix === undefined ? {} : { assistantPrefix: prefix }) };
  }
  const joinPrefix = (text: string, itemPrefix: string | undefined) =>
    itemPrefix === undefined ? text : `${text}\n${itemPrefix}`;
  const parts = exemplars.map(
    (exemplar) =>
      `${joinPrefix(fillTemplate({ template: prompt.template, question: exemplar.question }), prompt.assistantPrefix === undefined ? undefined : prompt.assistantPrefix.split("{question}").join(""))} ${exemplar.target}`,
  );
  parts.push(joinPrefix(fillTemplate({ template: prompt.template, question: item.question }), prefix));
  return { kind: "text", text: parts.join("\n\n") };
}

/** A prompt as one readable text (for predictions files): chat turns tagged with their role. */
export function describePrompt(params: { prompt: GenerationPrompt }): string {
  const { prompt } = params;
  if (prompt.kind === "text") return prompt.text;
  if (prompt.kind === "tokens") return `<${prompt.tokenIds.length} token ids>`;
  const turns = prompt.messages.map((message) => `<|${message.role}|>\n${message.content}`);
  if (prompt.assistantPrefix !== undefined) turns.push(`<|assistant|>\n${prompt.assistantPrefix}`);
  return turns.join("\n");
}
