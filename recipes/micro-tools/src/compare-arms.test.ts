import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareArms } from "./compare-arms.js";

let directory = "";
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "micro-tools-compare-"));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** A `--seeds` aggregate summary.json with one accuracy row per (task, values). */
async function seedsRun(name: string, variant: string | null, rows: Record<string, number[]>) {
  const folder = join(directory, name);
  await mkdir(folder, { recursive: true });
  await writeFile(
    join(folder, "summary.json"),
    JSON.stringify({
      kind: "seeds",
      recipe: { name: "micro-tools", version: "0.1.0", variant, packageName: null },
      rows: Object.entries(rows).map(([task, values]) => ({
        after: "sft",
        task,
        metric: "accuracy",
        perSeed: Object.fromEntries(values.map((value, index) => [String(index + 1), value])),
      })),
    }),
  );
  return folder;
}

describe("compare-arms (the cross-arm claim on two --seeds runs)", () => {
  it("supports the claim when the tools arm's +tools row beats the no-tools arm's row on every seed", async () => {
    const tools = await seedsRun("tools", null, {
      micro_tools_arithmetic: [0, 0, 0, 0, 0],
      "micro_tools_arithmetic+tools": [0.4, 0.5, 0.45, 0.3, 0.6],
    });
    const direct = await seedsRun("direct", "no-tools", {
      micro_tools_arithmetic: [0.01, 0, 0.02, 0, 0.01],
      "micro_tools_arithmetic+tools": [0, 0, 0, 0, 0],
    });
    const { verdict, problems } = await compareArms({ toolsRun: tools, noToolsRun: direct });
    expect(verdict.status).toBe("supported");
    expect(verdict.seeds).toEqual([1, 2, 3, 4, 5]);
    expect(verdict.test!.differences.map((value) => Number(value.toFixed(2)))).toEqual([
      0.39, 0.5, 0.43, 0.3, 0.59,
    ]);
    expect(problems).toEqual([]);
    // Swapped arms are refused by name, before any number is compared.
    await expect(compareArms({ toolsRun: direct, noToolsRun: tools })).rejects.toMatchObject({
      code: "compare_arms_wrong_arm",
    });
  });

  it("reports a claim that fails on one seed, and names a missing row or an unreadable folder", async () => {
    const tools = await seedsRun("tools-tied", null, {
      "micro_tools_arithmetic+tools": [0.4, 0.5, 0.02, 0.3, 0.6],
    });
    const direct = await seedsRun("direct-tied", "no-tools", {
      micro_tools_arithmetic: [0.01, 0, 0.02, 0, 0.01],
    });
    const { problems } = await compareArms({ toolsRun: tools, noToolsRun: direct });
    expect(problems[0]).toMatch(/reversed or tied on seed\(s\) 3/);
    const empty = await seedsRun("direct-empty", "no-tools", {});
    await expect(compareArms({ toolsRun: tools, noToolsRun: empty })).rejects.toMatchObject({
      code: "compare_arms_missing_row",
    });
    const error = await compareArms({ toolsRun: join(directory, "absent"), noToolsRun: direct }).catch(
      (caught: unknown) => caught,
    );
    expect(PosttrainError.isInstance(error) && error.code).toBe("compare_arms_unreadable");
  });
});
