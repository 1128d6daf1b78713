/**
 * Multi-turn tool rollouts on a remote SGLang / vLLM server (issue 19): a `ConversationGenerator`
 * over any core `GenerationBackend` that returns token ids. Each turn resends the conversation's
 * token ids so far (prompt, earlier turns, tool output) as a token prompt with the format's stop
 * strings; the server's prefix cache (SGLang's radix cache, vLLM's automatic prefix caching) is
 * what reuses the earlier turns' keys and values — the remote counterpart of the embedded
 * `ConversationDecoder`'s KV cache.
 *
 * The turn's text is decoded here from the returned token ids, not taken from the server: both
 * servers trim a matched stop string from their text (unless asked not to), but return the
 * tokens that completed it, and the tag parser needs the closing tag. Seeds: conversation `id`'s
 * turn `t` samples with seed `Random.fromSeed(seed).stream("conversation <id>").stream("turn
 * <t>")` (the backend then derives its per-request seed from it), so the same seed gives the same
 * requests.
 */
import { type GenerationBackend, Random } from "@posttrain/core";
import type { GenerationTokenizer } from "@posttrain/engine";
import type { ConversationGenerator, GeneratedTurn } from "@posttrain/tools";
import { RemoteGenerationError } from "./errors.js";

export function createRemoteConversationGenerator(params: {
  backend: GenerationBackend;
  tokenizer: GenerationTokenizer;
  temperature: number;
  seed: number;
}): ConversationGenerator {
  const histories = new Map<number, { tokens: number[]; turns: number }>();
  return {
    async generateTurns({ requests, eosTokenIds, signal }) {
      const eos = new Set(eosTokenIds);
      const prompts = requests.map((request) => {
        const held = histories.get(request.id) ?? { tokens: [], turns: 0 };
        const tokens = [...held.tokens, ...request.appendTokenIds];
        histories.set(request.id, { tokens, turns: held.turns });
        return { tokens, turn: held.turns };
      });
      const completions = await params.backend.generate({
        requests: requests.map((request, index) => ({
          prompt: { kind: "tokens" as const, tokenIds: prompts[index]!.tokens },
          sampling: {
            temperature: params.temperature,
            maxNewTokens: request.maxNewTokens,
            ...(request.stop.length === 0 ? {} : { stop: [...request.stop] }),
            seed: Random.fromSeed(params.seed)
              .stream(`conversation ${request.id}`)
              .stream(`turn ${prompts[index]!.turn}`)
              .nextUint32(),
            logprobs: true,
          },
        })),
        ...(signal === undefined ? {} : { signal }),
      });
      return requests.map((request, index): GeneratedTurn => {
        const completion = completions[index]?.[0];
        if (completion === undefined || completion.tokenIds === null)
          throw new RemoteGenerationError({
            code: "remote_generation_invalid_response",
            message: `the generation server returned no token ids for conversation ${request.id}; multi-turn tool rollouts need them`,
          });
        const tokenIds = completion.tokenIds;
        const history = histories.get(request.id)!;
        histories.set(request.id, { tokens: [...history.tokens, ...tokenIds], turns: history.turns + 1 });
        const samplingLogProbs = completion.logprobs ?? tokenIds.map(() => 0);
        const text =
          tokenIds.length === 0
            ? ""
            : params.tokenizer.decode(
                tokenIds.filter((token) => !eos.has(token)),
                { skipSpecialTokens: true },
              );
        const last = tokenIds.at(-1);
        return {
          id: request.id,
          tokenIds,
          // The server's sampling log-probs (the trainer recomputes the policy's own).
          modelLogProbs: samplingLogProbs,
          samplingLogProbs,
          text,
          finishReason:
            completion.finishReason === "length"
              ? "length"
              : last !== undefined && eos.has(last)
                ? "eos"
                : "stop",
        };
      });
    },
    release({ ids }) {
      for (const id of ids) histories.delete(id);
    },
  };
}
