import { mkdtempSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunContext, readEvents } from "@posttrain/core";
import { afterEach, describe, expect, it } from "vitest";
import { toolToyModelConfig, toolToyRlvrRows, toolToyTokenizer, toyRlvrConfig } from "../test/toy.js";
import { train } from "../train.js";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/**
 * A scripted SGLang server over the tool toy tokenizer: a sequence whose prompt has no tool
 * output yet answers a calculator call, one that has answers the product. Like SGLang, its
 * `text` drops the matched stop string while `output_ids` keep every generated token.
 */
async function fakeSglang(): Promise<{ url: string; generateBodies: Array<Record<string, unknown>> }> {
  const generateBodies: Array<Record<string, unknown>> = [];
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null") as Record<string, unknown>;
    let answer: unknown;
    if (request.url === "/update_weights_from_disk") answer = { success: true, message: "ok" };
    else {
      generateBodies.push(body);
      answer = (body["input_ids"] as number[][]).map((ids) => {
        const prompt = toolToyTokenizer.decode(ids);
        const [, a, b] = /Q(\d+)\*(\d+):/.exec(prompt)!;
        const called = prompt.includes("<output>");
        const full = called ? `so ${Number(a) * Number(b)}` : `<c>${a}*${b}</c>`;
        const outputIds = [...toolToyTokenizer.encode(full), ...(called ? [2] : [])];
        return {
          text: called ? full : full.slice(0, -"</c>".length),
          output_ids: outputIds,
          meta_info: {
            id: "x",
            finish_reason: called ? { type: "stop", matched: 2 } : { type: "stop", matched: "</c>" },
            prompt_tokens: ids.length,
            completion_tokens: outputIds.length,
            output_token_logprobs: outputIds.map((id) => [-0.25, id, null]),
          },
        };
      });
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, generateBodies };
}

describe("rlvr tool rollouts on a remote server", () => {
  it("continues each conversation by resending its token ids; the closing tag comes from the token ids", async () => {
    const fake = await fakeSglang();
    const runDirectory = mkdtempSync(join(tmpdir(), "rlvr-remote-tools-"));
    const result = await train({
      config: toyRlvrConfig({
        steps: 1,
        rollouts: { promptsPerStep: 2, samplesPerPrompt: 2, temperature: 1, maxNewTokens: 32 },
        filterZeroVarianceGroups: false,
        generation: {
          backend: "remote",
          server: "sglang",
          url: fake.url,
          weightsDirectory: join(runDirectory, "weights"),
          retries: 0,
        },
        tools: { allow: ["calculator"], callNames: { c: "calculator" }, maxTotalTokens: 128 },
      }),
      model: { kind: "initialize", config: toolToyModelConfig, seed: 3 },
      data: { train: toolToyRlvrRows({ count: 2, instructions: "Call <c>EXPRESSION</c>." }) },
      context: createRunContext({
        directory: runDirectory,
        seed: 1,
        streamName: "rlvr",
        progressMode: "silent",
      }),
      tokenizer: toolToyTokenizer,
    });
    expect(result.status).toBe("completed");
    const step = readEvents({ path: join(runDirectory, "events.jsonl") }).events.find(
      (event) => event.type === "step-end",
    )!;
    expect(step["toolCallsPerRollout"]).toBe(1);
    expect(step["toolErrorRate"]).toBe(0);
    expect(step["accuracyWithTools"]).toBe(1);
    // Two turns of one request per conversation (4 conversations): the second resends prompt + call + output.
    const prompts = fake.generateBodies.flatMap((body) =>
      (body["input_ids"] as number[][]).map((ids) => toolToyTokenizer.decode(ids)),
    );
    expect(prompts).toHaveLength(8);
    const first = prompts.filter((prompt) => !prompt.includes("<output>"));
    const second = prompts.filter((prompt) => prompt.includes("<output>"));
    expect(first).toHaveLength(4);
    expect(second).toHaveLength(4);
    for (const prompt of second) {
      const [, a, b] = /Q(\d+)\*(\d+):/.exec(prompt)!;
      const start = first.find((candidate) => candidate.includes(`Q${a}*${b}:`))!;
      expect(prompt).toBe(`${start}<c>${a}*${b}</c><output>\n${Number(a) * Number(b)}\n</output>\n`);
    }
    // Every conversation and turn has its own sampling seed.
    const seeds = fake.generateBodies.flatMap((body) =>
      (body["sampling_params"] as Array<Record<string, unknown>>).map(
        (sampling) => sampling["sampling_seed"],
      ),
    );
    expect(new Set(seeds).size).toBe(8);
    expect(
      (fake.generateBodies[0]!["sampling_params"] as Array<Record<string, unknown>>)[0]!["stop"],
    ).toEqual(["</c>"]);
  }, 60_000);
});
