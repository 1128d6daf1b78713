import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createCalculatorTool } from "./calculator.js";
import type { ConversationGenerator, GeneratedTurn, TurnRequest } from "./driver.js";
import { runToolConversations } from "./driver.js";
import { createTagFormat } from "./formats/tags.js";
import { createToolRegistry } from "./registry.js";
import type { Tool } from "./types.js";

/** One token per character (code point), so masks can be read against the text. */
const encode = (text: string) => [...text].map((character) => character.codePointAt(0)!);
const decode = (ids: readonly number[]) => String.fromCodePoint(...ids);

/**
 * A scripted generator: conversation `id` says `scripts[id][turn]` at its turn-th turn (cut to
 * `maxNewTokens`, like a real one). It records what was appended before each turn.
 */
function scripted(
  scripts: string[][],
): ConversationGenerator & { appended: Map<number, string[]>; released: number[] } {
  const turnsSeen = new Map<number, number>();
  const appended = new Map<number, string[]>();
  const released: number[] = [];
  return {
    appended,
    released,
    async generateTurns({ requests }: { requests: readonly TurnRequest[] }): Promise<GeneratedTurn[]> {
      return requests.map((request) => {
        const turn = turnsSeen.get(request.id) ?? 0;
        turnsSeen.set(request.id, turn + 1);
        appended.set(request.id, [...(appended.get(request.id) ?? []), decode(request.appendTokenIds)]);
        const full = scripts[request.id]![turn] ?? "";
        const tokenIds = encode(full).slice(0, request.maxNewTokens);
        const text = decode(tokenIds);
        const stopped = request.stop.some((stop) => text.endsWith(stop));
        return {
          id: request.id,
          tokenIds,
          modelLogProbs: tokenIds.map(() => -0.5),
          samplingLogProbs: tokenIds.map(() => -0.5),
          text,
          finishReason: tokenIds.length < encode(full).length ? "length" : stopped ? "stop" : "eos",
        };
      });
    },
    release({ ids }) {
      released.push(...ids);
    },
  };
}

let running = 0;
let mostAtOnce = 0;
const sleepy: Tool<unknown> = {
  name: "sleepy",
  version: "1",
  description: "waits a little and echoes",
  argumentSchema: z.object({ text: z.string() }),
  tagArgument: "text",
  call: async (arguments_) => {
    running += 1;
    mostAtOnce = Math.max(mostAtOnce, running);
    await new Promise((resolve) => setTimeout(resolve, 20));
    running -= 1;
    return { output: (arguments_ as { text: string }).text.toUpperCase() };
  },
};
const registry = createToolRegistry({ tools: [createCalculatorTool() as Tool<unknown>, sleepy] });
const format = createTagFormat({ registry });
const limits = { timeoutMilliseconds: 2000, maxOutputCharacters: 200 };

describe("runToolConversations", () => {
  it("masks tool output token by token, appends it on the conversation, and scores only the last turn", async () => {
    const generator = scripted([["Let me: <calculator>6*7</calculator>", " So 42."]]);
    const { rollouts, metrics } = await runToolConversations({
      generator,
      tokenizer: { encode, decode },
      eosTokenIds: [],
      registry,
      format,
      conversations: [{ promptTokenIds: encode("Q?") }],
      maxToolCalls: 3,
      maxTotalTokens: 1000,
      limits,
    });
    const [rollout] = rollouts;
    const first = "Let me: <calculator>6*7</calculator>";
    const output = "<output>\n42\n</output>\n";
    const last = " So 42.";
    expect(decode(rollout!.responseTokenIds)).toBe(first + output + last);
    expect(rollout!.responseMask).toEqual([
      ...encode(first).map(() => 1),
      ...encode(output).map(() => 0),
      ...encode(last).map(() => 1),
    ]);
    expect(rollout!.modelLogProbs).toEqual([
      ...encode(first).map(() => -0.5),
      ...encode(output).map(() => 0),
      ...encode(last).map(() => -0.5),
    ]);
    expect(rollout!.finalTurnText).toBe(last);
    expect(rollout!.finish).toBe("answer");
    expect(rollout!.toolCalls).toBe(1);
    // The prompt, then only the tool output: the generator continues on its own state.
    expect(generator.appended.get(0)).toEqual(["Q?", output]);
    expect(generator.released).toContain(0);
    expect(metrics).toMatchObject({
      rollouts: 1,
      toolCalls: 1,
      toolCallsPerRollout: 1,
      toolErrorRate: 0,
      rolloutsWithToolUse: 1,
    });
    expect(metrics.callsByTool).toEqual({ calculator: 1 });
    expect(metrics.toolTimeShare).toBeGreaterThanOrEqual(0);
    expect(metrics.toolTimeShare).toBeLessThanOrEqual(1);
  });

  it("a malformed call and an unknown-argument call are error observations the model reads, and count", async () => {
    const generator = scripted([["<calculator>6*</calculator>", "<calculator>1+", "done"]]);
    const { rollouts, metrics } = await runToolConversations({
      generator,
      tokenizer: { encode, decode },
      eosTokenIds: [],
      registry,
      format,
      conversations: [{ promptTokenIds: encode("Q") }],
      maxToolCalls: 5,
      maxTotalTokens: 1000,
      limits,
    });
    const [rollout] = rollouts;
    expect(rollout!.observations.map((observation) => observation.errorKind)).toEqual([
      "tool_failed",
      "malformed_call",
    ]);
    expect(rollout!.segments[3]!.text).toBe(
      "<output>\nunclosed <calculator>: a call is <calculator>…</calculator>\n</output>\n",
    );
    expect(rollout!.finalTurnText).toBe("done");
    expect(metrics.toolErrorRate).toBe(1);
    expect(metrics.errorsByKind).toEqual({ tool_failed: 1, malformed_call: 1 });
  });

  it("stops at maxToolCalls (calls past it are not run) and at the token budget", async () => {
    const limited = await runToolConversations({
      generator: scripted([["<calculator>1</calculator>", "<calculator>2</calculator>", "never"]]),
      tokenizer: { encode, decode },
      eosTokenIds: [],
      registry,
      format,
      conversations: [{ promptTokenIds: encode("Q") }],
      maxToolCalls: 1,
      maxTotalTokens: 1000,
      limits,
    });
    expect(limited.rollouts[0]!.toolCalls).toBe(1);
    expect(limited.rollouts[0]!.finish).toBe("call_limit");
    expect(limited.rollouts[0]!.finalTurnText).toBe("<calculator>2</calculator>");

    const budget = await runToolConversations({
      generator: scripted([["<calculator>12345*6789</calculator>", "never"]]),
      tokenizer: { encode, decode },
      eosTokenIds: [],
      registry,
      format,
      conversations: [{ promptTokenIds: encode("Q") }],
      maxToolCalls: 4,
      maxTotalTokens: 40,
      limits,
    });
    const rollout = budget.rollouts[0]!;
    expect(rollout.finish).toBe("budget");
    expect(rollout.responseTokenIds).toHaveLength(40);
    expect(rollout.responseMask.filter((mask) => mask === 0)).toHaveLength(40 - 35);
  });

  it("runs the batch's calls in parallel within the concurrency bound, one batch per turn", async () => {
    running = 0;
    mostAtOnce = 0;
    const scripts = Array.from({ length: 6 }, (_, index) => [
      `<sleepy>row ${index}</sleepy>`,
      `answer ${index}`,
    ]);
    const { rollouts, metrics } = await runToolConversations({
      generator: scripted(scripts),
      tokenizer: { encode, decode },
      eosTokenIds: [],
      registry,
      format,
      conversations: scripts.map(() => ({ promptTokenIds: encode("Q") })),
      maxToolCalls: 2,
      maxTotalTokens: 1000,
      limits,
      concurrency: 2,
    });
    expect(mostAtOnce).toBe(2);
    expect(rollouts.map((rollout) => rollout.finalTurnText)).toEqual(scripts.map((script) => script[1]));
    expect(rollouts[3]!.segments[1]!.text).toBe("<output>\nROW 3\n</output>\n");
    expect(metrics.toolCallsPerRollout).toBe(1);
  });
});
