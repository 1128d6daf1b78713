import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestHub, type TestHub } from "@posttrain/hub/test";
import type { RecipeLock } from "@posttrain/recipe";
import type { ProbeReport } from "@posttrain/verifiers";
import { recipe as tulu3 } from "@posttrain-recipes/tulu3-8b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareResultsWithRecipe } from "../results/compare.js";
import { resultsFile } from "../test/results-file.js";
import { planPush, pushToHub } from "./push.js";

const lock: RecipeLock = {
  lockVersion: 1,
  recipe: { name: "tulu3-8b", version: "0.1.0", variant: null, fingerprint: "f".repeat(64) },
  model: { kind: "hub", repo: "meta-llama/Llama-3.1-8B", revision: "1".repeat(40), files: [] },
  tokenizer: {
    source: { kind: "hub", repo: "meta-llama/Llama-3.1-8B", revision: "1".repeat(40) },
    files: [],
    chatTemplateSha256: null,
  },
  datasets: {
    "sft.train[0]": {
      kind: "hub",
      repo: "allenai/tulu-3-sft-mixture",
      revision: "2".repeat(40),
      split: "train",
    },
  },
  evalTasks: {},
  verifiers: {},
  packages: {},
};

const probes: ProbeReport = {
  passed: 1,
  failed: 1,
  verifiers: [
    {
      verifier: "gsm8k",
      version: "1.0.0",
      passed: 1,
      failed: 1,
      probes: [
        { name: "plain", kind: "honest", expectedScore: 1, score: 1, passed: true, why: "ok", details: {} },
        {
          name: "two-answers",
          kind: "adversarial",
          expectedScore: 0,
          score: 1,
          passed: false,
          why: "both boxed",
          details: {},
        },
      ],
    },
  ],
};

describe("posttrain push against the local Hub-compatible server", () => {
  let hub: TestHub;
  const token = "hf_test_token_push";
  beforeAll(async () => {
    hub = await startTestHub({
      token,
      repos: [
        {
          type: "model",
          name: "me/tulu3-8b-rlvr",
          commits: [{ files: { ".gitattributes": "*.safetensors filter=lfs diff=lfs merge=lfs -text\n" } }],
        },
      ],
    });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it("uploads the checkpoint, the model card and the lock in one commit", async () => {
    const directory = await mkdtemp(join(tmpdir(), "posttrain-push-"));
    const weights = new Uint8Array(4096).map((_, index) => (index * 31) % 251);
    await writeFile(join(directory, "model.safetensors"), weights);
    await writeFile(join(directory, "config.json"), '{"model_type":"llama"}');
    await mkdir(join(directory, "tokenizer"));
    await writeFile(join(directory, "tokenizer", "tokenizer.json"), "{}");
    await writeFile(join(directory, ".tmp-model.safetensors-123"), "partial");
    const comparison = compareResultsWithRecipe({
      recipe: tulu3,
      results: new Map([
        [
          "rlvr",
          resultsFile({
            gsm8k: { metric: "exact_match", value: 0.87 },
            ifeval: { metric: "prompt_level_loose_acc", value: 0.79 },
          }) as never,
        ],
      ]),
    });
    // The offline preview (`push --dry-run`) names exactly what the push uploads, with the same card.
    const plan = await planPush({ directory, recipe: tulu3, lock, stage: "rlvr", comparison, probes });
    const result = await pushToHub({
      repo: "me/tulu3-8b-rlvr",
      directory,
      recipe: tulu3,
      lock,
      stage: "rlvr",
      comparison,
      probes,
      hub: { hubUrl: hub.url, accessToken: token },
    });
    expect(plan.files).toEqual(result.files);
    expect(plan.modelCard).toBe(result.modelCard);
    expect(result.commitSha).toBe(hub.branchSha("me/tulu3-8b-rlvr", "main", "model"));
    expect(result.files).toEqual([
      "README.md",
      "config.json",
      "model.safetensors",
      "recipe.lock.json",
      "tokenizer/tokenizer.json",
    ]);
    const stored = hub.filesAt("me/tulu3-8b-rlvr", result.commitSha, "model")!;
    expect(Buffer.compare(stored.get("model.safetensors")!, Buffer.from(weights))).toBe(0);
    expect(stored.has(".tmp-model.safetensors-123")).toBe(false);
    expect(JSON.parse(stored.get("recipe.lock.json")!.toString("utf8"))).toEqual(lock);
    const card = stored.get("README.md")!.toString("utf8");
    expect(card).toContain('base_model: "meta-llama/Llama-3.1-8B"');
    expect(card).toContain('- "allenai/tulu-3-sft-mixture"');
    expect(card).toContain(`# tulu3-8b ${tulu3.version} — checkpoint after stage \`rlvr\``);
    expect(card).toContain(`| sft.train[0] | allenai/tulu-3-sft-mixture | \`${"2".repeat(40)}\` |`);
    expect(card).toContain("| loss.beta | 5 |");
    expect(card).toContain('| kl.estimator | "k1" |');
    expect(card).toMatch(
      /\| rlvr \| gsm8k \| exact_match \| 87\.0 \| 85\.0–89\.0 \| 87\.6 \| 2\.0 \| pass \|/,
    );
    expect(card).toContain("FAIL (outside_tolerance)");
    expect(card).toContain("FAIL (missing_task)");
    expect(card).toContain("| gsm8k | 1.0.0 | 1 | 1 |");
    expect(card).toContain("gsm8k/two-answers: both boxed");
  });

  it("fails with the Hub's error without a token", async () => {
    const directory = await mkdtemp(join(tmpdir(), "posttrain-push-"));
    await writeFile(join(directory, "config.json"), "{}");
    await expect(
      pushToHub({
        repo: "me/tulu3-8b-rlvr",
        directory,
        recipe: tulu3,
        lock: null,
        hub: { hubUrl: hub.url, accessToken: null },
      }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^hub_/) });
  });
});
