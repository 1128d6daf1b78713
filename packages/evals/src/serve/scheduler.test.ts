import { Random } from "@posttrain/core";
import { type LoadedTokenizer, loadTokenizer } from "@posttrain/data";
import type { PretrainedModel } from "@posttrain/engine";
import { beforeAll, describe, expect, it } from "vitest";
import { createTinyServeModel, microTokenizerDirectory } from "../test/serve-model.js";
import { ContinuousBatchScheduler, type SequenceRequest, type SequenceResult } from "./scheduler.js";

describe("ContinuousBatchScheduler", () => {
  let model: PretrainedModel;
  let tokenizer: LoadedTokenizer;
  beforeAll(async () => {
    tokenizer = await loadTokenizer({ directory: microTokenizerDirectory });
    model = createTinyServeModel({ seed: 9, eosTokenId: tokenizer.eosTokenIds[0]! });
    for (let index = 0; index < model.parameters.length; index += 1) model.parameters[index]! *= 4;
  });

  const row = (text: string, seed: number, extra: Partial<SequenceRequest> = {}): SequenceRequest => ({
    promptTokenIds: tokenizer.encode(text, { addSpecialTokens: true }),
    sampling: { temperature: 0.8, topK: 50 },
    maxNewTokens: 12,
    random: Random.fromSeed(seed).stream("row"),
    ...extra,
  });

  it("admits rows between decode steps; each row gets the tokens it gets alone", async () => {
    const solo = await ContinuousBatchScheduler.create({ model, tokenizer, threads: 1 });
    const prompts = ["A long prompt that keeps going for a while", "Hi", "Medium prompt here"];
    const alone: SequenceResult[] = [];
    for (const [index, prompt] of prompts.entries()) alone.push(await solo.submit(row(prompt, index)));

    const scheduler = await ContinuousBatchScheduler.create({
      model,
      tokenizer,
      threads: 1,
      maxBatchSize: 2,
    });
    const late: Array<Promise<unknown>> = [];
    let tokensOfFirst = 0;
    const first = scheduler.submit(
      row(prompts[0]!, 0, {
        onToken: () => {
          tokensOfFirst += 1;
          // Join a batch that is already decoding (and a third row that must wait for a slot).
          if (tokensOfFirst === 3)
            late.push(scheduler.submit(row(prompts[1]!, 1)), scheduler.submit(row(prompts[2]!, 2)));
        },
      }),
    );
    const results = [
      await first,
      ...((await Promise.all(await Promise.all([first.then(() => Promise.all(late))])))[0] as never[]),
    ];
    results.forEach((result, index) => {
      const expected = alone[index]!;
      expect(result.tokenIds).toEqual(expected.tokenIds);
      expect(result.text).toBe(expected.text);
      expect(result.finishReason).toBe(expected.finishReason);
      // Batch shapes change float rounding, not tokens.
      result.logProbs.forEach((logProb, position) => {
        expect(logProb).toBeCloseTo(expected.logProbs[position]!, 4);
      });
    });
    expect(scheduler.statistics.prefills).toBe(3);
    expect(scheduler.statistics.rowSteps / scheduler.statistics.decodeSteps).toBeGreaterThan(1);
    expect(scheduler.statistics.generatedTokens).toBe(
      alone.reduce((sum, result) => sum + result.tokenIds.length, 0),
    );
  });

  it("an aborted row leaves at the next step with its tokens so far; finished rows report stop/length", async () => {
    const scheduler = await ContinuousBatchScheduler.create({ model, tokenizer, threads: 1 });
    const controller = new AbortController();
    let seen = 0;
    const aborted = scheduler.submit(
      row("Keep going", 3, {
        maxNewTokens: 200,
        signal: controller.signal,
        onToken: () => {
          seen += 1;
          if (seen === 4) controller.abort();
        },
      }),
    );
    const other = scheduler.submit(row("Other", 4, { maxNewTokens: 6 }));
    const [abortedResult, otherResult] = await Promise.all([aborted, other]);
    expect(abortedResult.finishReason).toBe("abort");
    expect(abortedResult.tokenIds).toHaveLength(4);
    expect(otherResult.tokenIds.length).toBeLessThanOrEqual(6);
    expect(["stop", "length"]).toContain(otherResult.finishReason);
    expect(scheduler.activeRows).toBe(0);
    await scheduler.close();
    await expect(scheduler.submit(row("late", 5))).rejects.toThrow(/closed/);
  });

  it("streams text deltas that add up to the final text, holding back a possible stop string", async () => {
    const scheduler = await ContinuousBatchScheduler.create({ model, tokenizer, threads: 1 });
    const greedy = { sampling: { temperature: 0 }, maxNewTokens: 20 };
    const plain = await scheduler.submit(row("Stream me", 6, greedy));
    const stop = plain.text.slice(4, 6);
    expect(stop).toHaveLength(2);
    let streamed = "";
    const result = await scheduler.submit(
      row("Stream me", 6, {
        ...greedy,
        stop: [stop],
        onToken: (event) => {
          streamed += event.textDelta;
        },
      }),
    );
    expect(result.finishReason).toBe("stop");
    expect(result.text).toBe(plain.text.slice(0, plain.text.indexOf(stop)));
    expect(streamed).toBe(result.text);
  });
  it("exclusive: waits for the running batch, holds new rows back, then admits them", async () => {
    const scheduler = await ContinuousBatchScheduler.create({ model, tokenizer, threads: 1 });
    const events: string[] = [];
    const running = scheduler
      .submit(row("A prompt that is decoding", 1, { maxNewTokens: 24, sampling: { temperature: 0 } }))
      .then((result) => {
        events.push(`running finished (${result.tokenIds.length} tokens)`);
        return result;
      });
    let queued: Promise<SequenceResult> | undefined;
    const section = scheduler.exclusive(async () => {
      events.push(`section: ${scheduler.activeRows} active`);
      // Submitted inside the section: it waits in the queue until the section ends.
      queued = scheduler.submit(row("Queued during the section", 2, { maxNewTokens: 4 }));
      await new Promise((resolve) => setTimeout(resolve, 20));
      events.push(`section end: ${scheduler.activeRows} active, ${scheduler.pendingRows} pending`);
      return "done";
    });
    expect(await section).toBe("done");
    const [first, second] = await Promise.all([running, queued!]);
    expect(events[0]).toMatch(/^running finished/);
    expect(events.slice(1)).toEqual(["section: 0 active", "section end: 0 active, 1 pending"]);
    expect(first.finishReason).not.toBe("abort");
    expect(second.tokenIds.length).toBeGreaterThan(0);
    await scheduler.close();
  });

  it("a token callback that throws fails its own row only; the batch keeps decoding", async () => {
    const scheduler = await ContinuousBatchScheduler.create({ model, tokenizer, threads: 1 });
    const greedy = { sampling: { temperature: 0 }, maxNewTokens: 8 };
    const alone = await scheduler.submit(row("Neighbour", 7, greedy));
    let calls = 0;
    const failing = scheduler.submit(
      row("Broken stream", 8, {
        maxNewTokens: 50,
        onToken: () => {
          calls += 1;
          if (calls === 2) throw new Error("write after end");
        },
      }),
    );
    const neighbour = scheduler.submit(row("Neighbour", 7, greedy));
    await expect(failing).rejects.toMatchObject({ code: "serve_stream_failed" });
    const result = await neighbour;
    expect(result.tokenIds).toEqual(alone.tokenIds);
    expect(calls).toBe(2);
    expect(scheduler.activeRows).toBe(0);
    await scheduler.close();
  });
});
