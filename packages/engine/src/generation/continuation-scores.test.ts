import { describe, expect, it } from "vitest";
import { tinyConfigs, tinyModel } from "../test/tiny-models.js";
import { continuationTokenIds, createEmbeddedGenerationBackend } from "./backend.js";
import { computeCompletionLogProbs } from "./completion-log-probs.js";
import type { GenerationTokenizer } from "./tokenizer.js";

// Characters are ids 3.. (0 pad, 1 bos, 2 eos); the chat template closes every turn with EOS,
// as Tulu's closes an assistant turn with <|endoftext|>.
const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 .,:;\n<>|";
const tokenizer: GenerationTokenizer = {
  encode: (text, options) => {
    const ids = options?.addSpecialTokens === false ? [] : [1];
    for (const piece of text.split(/(<eos>)/)) {
      if (piece === "<eos>") ids.push(2);
      else for (const character of piece) ids.push(3 + Math.max(0, alphabet.indexOf(character)));
    }
    return ids;
  },
  decode: (ids) => ids.map((id) => (id >= 3 ? alphabet[id - 3] : `<${id}>`)).join(""),
  eosTokenIds: [2],
  applyChatTemplate: ({ messages, addGenerationPrompt }) =>
    messages.map((message) => `<${message.role}>\n${message.content}<eos>`).join("") +
    (addGenerationPrompt ? "<assistant>\n" : ""),
};

const model = tinyModel({ config: tinyConfigs["llama (tied, GQA)"]!, seed: 5 });
const chat = { kind: "chat" as const, messages: [{ role: "user" as const, content: "add 2 and 3" }] };

describe("scoring continuations (log-likelihood of text the model did not generate)", () => {
  it("tokenizes an assistant reply as the whole rendered conversation: the reply carries its end-of-turn", () => {
    const row = continuationTokenIds({
      request: { prompt: chat, continuation: { kind: "assistant", content: "5" } },
      tokenizer,
    });
    const whole = tokenizer.encode("<user>\nadd 2 and 3<eos><assistant>\n5<eos>", {
      addSpecialTokens: false,
    });
    expect([...row.promptTokenIds, ...row.completionTokenIds]).toEqual(whole);
    expect(row.completionTokenIds).toEqual(tokenizer.encode("5<eos>", { addSpecialTokens: false }));
    expect(() =>
      continuationTokenIds({
        request: { prompt: { kind: "text", text: "x" }, continuation: { kind: "assistant", content: "5" } },
        tokenizer,
      }),
    ).toThrow(/needs a chat prompt/);
  });

  it("returns the training path's summed log-probs, whatever the batch size", async () => {
    const requests = [
      { prompt: chat, continuation: { kind: "assistant" as const, content: "5" } },
      { prompt: chat, continuation: { kind: "assistant" as const, content: "the sum is 6" } },
      {
        prompt: { kind: "text" as const, text: "one two" },
        continuation: { kind: "text" as const, text: " three" },
      },
    ];
    const single = await createEmbeddedGenerationBackend({ model, tokenizer, threads: 1, maxBatchSize: 1 });
    const batched = await createEmbeddedGenerationBackend({ model, tokenizer, threads: 1, maxBatchSize: 16 });
    const one = await single.scoreContinuations!({ requests });
    const all = await batched.scoreContinuations!({ requests });
    for (const [index, request] of requests.entries()) {
      const row = continuationTokenIds({ request, tokenizer });
      const [expected] = await computeCompletionLogProbs({ model, batch: [row], threads: 1 });
      expect(one[index]!.tokenCount).toBe(row.completionTokenIds.length);
      expect(one[index]!.logProbability).toBeCloseTo(expected!.sum, 4);
      expect(all[index]!.logProbability).toBeCloseTo(one[index]!.logProbability, 4);
      expect(one[index]!.logProbability).toBeLessThan(0);
    }
    // The text prompt starts with BOS (encoded with special tokens), the continuation does not.
    expect(continuationTokenIds({ request: requests[2]!, tokenizer }).promptTokenIds[0]).toBe(1);
  });
});
