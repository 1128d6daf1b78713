import { execFile } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { resultsFile } from "@posttrain/export/test";
import { startTestHub, type TestHub } from "@posttrain/hub/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const tulu3 = fileURLToPath(new URL("../../../../recipes/tulu3-8b", import.meta.url));
const run = promisify(execFile);

describe("posttrain push and compare-results", () => {
  let hub: TestHub;
  const token = "hf_cli_push_token";
  let results: string;
  beforeAll(async () => {
    hub = await startTestHub({
      token,
      repos: [{ type: "model", name: "me/tulu3-dpo", commits: [{ files: { ".gitattributes": "" } }] }],
    });
    results = await mkdtemp(join(tmpdir(), "posttrain-cli-results-"));
    await mkdir(join(results, "dpo"));
    await writeFile(
      join(results, "dpo", "results.json"),
      JSON.stringify(
        resultsFile({
          gsm8k: { metric: "exact_match", value: 0.84 },
          minerva_math: { metric: "exact_match_flex", value: 0.42 },
          ifeval: { metric: "prompt_level_loose_acc", value: 0.81 },
          humaneval: { metric: "pass_at_10", value: 0.84 },
        }),
      ),
    );
  });
  afterAll(async () => {
    await hub?.close();
  });
  const posttrain = (...args: string[]) =>
    run(process.execPath, [bin, ...args], {
      encoding: "utf8",
      env: { ...process.env, CI: "true", HF_ENDPOINT: hub.url, HF_TOKEN: token },
    }).then(
      (result) => ({ status: 0, ...result }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        status: error.code,
        stdout: error.stdout,
        stderr: error.stderr,
      }),
    );

  it("push uploads the checkpoint with a model card holding the eval table against the expected numbers", async () => {
    const checkpoint = await mkdtemp(join(tmpdir(), "posttrain-cli-push-"));
    await writeFile(join(checkpoint, "model.safetensors"), new Uint8Array([1, 2, 3, 4]));
    await writeFile(join(checkpoint, "config.json"), "{}");
    const result = await posttrain(
      "push",
      checkpoint,
      "--repo",
      "me/tulu3-dpo",
      "--recipe",
      tulu3,
      "--stage",
      "dpo",
      "--results",
      results,
      "--no-probes",
      "--json",
    );
    expect(result.status, result.stderr).toBe(0);
    const { commitSha, files } = JSON.parse(result.stdout) as { commitSha: string; files: string[] };
    expect(files).toEqual(["README.md", "config.json", "model.safetensors"]);
    const stored = hub.filesAt("me/tulu3-dpo", commitSha, "model")!;
    expect([...stored.get("model.safetensors")!]).toEqual([1, 2, 3, 4]);
    const card = stored.get("README.md")!.toString("utf8");
    expect(card).toContain("checkpoint after stage `dpo`");
    expect(card).toMatch(
      /\| dpo \| gsm8k \| exact_match \| 84\.0 \| 82\.0–86\.0 \| 84\.3 \| 2\.0 \| pass \|/,
    );
    expect(card).toContain("The verifier probe suite was not run");
  });

  it("compare-results prints the comparison and exits 0 when every number is reproduced", async () => {
    const result = await posttrain("compare-results", tulu3, "--results", results, "--json");
    expect(result.status, result.stderr).toBe(0);
    const comparison = JSON.parse(result.stdout) as {
      rows: Array<{ after: string; passed: boolean }>;
      missingStages: string[];
    };
    expect(comparison.rows.every((row) => row.after === "dpo" && row.passed)).toBe(true);
    // SFT and RLVR have expected rows but no results here: listed, not failed.
    expect(comparison.missingStages).toEqual(["sft", "rlvr"]);
  });
});
