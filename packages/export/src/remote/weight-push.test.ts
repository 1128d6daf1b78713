import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGenerationServer, type TestGenerationServer } from "../test/generation-server.js";
import { createWeightPushingBackend, parametersVersion } from "./weight-push.js";
import { createRemoteGenerationBackend } from "./weight-sync.js";

describe("pushing a trainer's live policy to a generation server before each rollout", () => {
  let root: string;
  let server: TestGenerationServer;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "posttrain-push-weights-"));
    const initial = join(root, "initial");
    await mkdir(initial);
    await writeFile(join(initial, "config.json"), JSON.stringify({ architectures: ["LlamaForCausalLM"] }));
    await writeFile(join(initial, "policy.json"), JSON.stringify({ skill: 0 }));
    server = await startTestGenerationServer({ flavor: "sglang", modelPath: initial, model: "policy" });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("writes and loads the weights once per version, and generates with them", async () => {
    // The "policy": its parameters change in place as a trainer would update them.
    const parameters = new Float32Array([0, 0, 0]);
    const remote = await createRemoteGenerationBackend({
      endpoint: server.url,
      model: "policy",
      server: "sglang",
      retries: 0,
    });
    const pushed: string[] = [];
    const backend = createWeightPushingBackend({
      remote,
      version: () => parametersVersion(parameters),
      directoryFor: (version) => join(root, `weights-${version.slice(0, 12)}`),
      writeWeights: async ({ directory }) => {
        await mkdir(directory, { recursive: true });
        await writeFile(
          join(directory, "config.json"),
          JSON.stringify({ architectures: ["LlamaForCausalLM"] }),
        );
        await writeFile(join(directory, "policy.json"), JSON.stringify({ skill: parameters[0] }));
      },
      onPush: ({ directory }) => pushed.push(directory),
    });
    const ask = async () => {
      const [samples] = await backend.generate({
        requests: [
          {
            prompt: {
              kind: "chat",
              messages: [{ role: "user", content: "Tom has 1 apples and buys 2 more." }],
            },
            sampling: { temperature: 1, maxNewTokens: 16 },
          },
        ],
      });
      return samples?.[0]?.text;
    };
    expect(await ask()).toBe("The answer is 0.");
    expect(await ask()).toBe("The answer is 0.");
    expect(backend.pushes).toBe(1);
    parameters[0] = 5; // an optimizer step
    expect(await ask()).toBe("The answer is 3.");
    expect(backend.pushes).toBe(2);
    expect(server.loadedPath).toBe(pushed[1]);
    expect(backend.describe().modelHash).toBe(parametersVersion(parameters));
    expect(server.requests.filter((request) => request.path === "/update_weights_from_disk")).toHaveLength(2);
  });
});
