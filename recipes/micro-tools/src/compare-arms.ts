/**
 * Judges the cross-arm claim on two multi-seed runs of this recipe:
 *
 *   posttrain run recipes/micro-tools --seeds 5
 *   posttrain run recipes/micro-tools --variant no-tools --seeds 5
 *   node recipes/micro-tools/dist/compare-arms.js \
 *     --tools runs/micro-tools-<v>/<id>-seeds --no-tools runs/micro-tools-<v>-no-tools/<id>-seeds [--stage sft]
 *
 * Reads each run's aggregate `summary.json`, takes the tools arm's
 * `micro_tools_arithmetic+tools` and the no-tools arm's `micro_tools_arithmetic` accuracy per
 * seed after `--stage` (default: the last stage both evaluated), prints the paired verdict
 * (one JSON line) and exits 1 when the claim is not supported on every seed.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PosttrainError, parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import { armsPublishProblems, armsTask, judgeArms } from "./arms.js";

/** The parts of a `--seeds` aggregate summary.json this reads (validated; the error names the field). */
const seedsSummarySchema = z.object({
  kind: z.literal("seeds"),
  recipe: z.object({ name: z.literal("micro-tools"), variant: z.string().nullable() }),
  rows: z.array(
    z.object({
      after: z.string(),
      task: z.string(),
      metric: z.string(),
      perSeed: z.record(z.string(), z.number().nullable()),
    }),
  ),
});
type SeedsSummary = z.infer<typeof seedsSummarySchema>;

/** A comparison that cannot be made (a run of the wrong arm, a missing row). */
export class CompareArmsError extends PosttrainError {}

async function readSummary(directory: string): Promise<SeedsSummary> {
  const path = join(directory, "summary.json");
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new CompareArmsError({
      code: "compare_arms_unreadable",
      message: `${path}: ${(error as Error).message} (give a multi-seed run folder, \`<id>-seeds\`)`,
    });
  }
  return parseWithSchema({ schema: seedsSummarySchema, value, label: path });
}

function seedValues(summary: SeedsSummary, stage: string, task: string): Map<number, number> {
  const row = summary.rows.find(
    (candidate) => candidate.after === stage && candidate.task === task && candidate.metric === "accuracy",
  );
  if (row === undefined)
    throw new CompareArmsError({
      code: "compare_arms_missing_row",
      message: `no ${task} accuracy after ${stage} in the ${summary.recipe.variant ?? "tools"} arm's summary`,
    });
  return new Map(
    Object.entries(row.perSeed).flatMap(([seed, value]) => (value === null ? [] : [[Number(seed), value]])),
  );
}

/** Compares the arms of two multi-seed run folders. */
export async function compareArms(params: { toolsRun: string; noToolsRun: string; stage?: string }) {
  const [tools, noTools] = await Promise.all([readSummary(params.toolsRun), readSummary(params.noToolsRun)]);
  if (tools.recipe.variant !== null)
    throw new CompareArmsError({
      code: "compare_arms_wrong_arm",
      message: `--tools: a run of the recipe itself, not of the ${tools.recipe.variant} variant`,
    });
  if (noTools.recipe.variant !== "no-tools")
    throw new CompareArmsError({
      code: "compare_arms_wrong_arm",
      message: `--no-tools: a run of the no-tools variant (got ${noTools.recipe.variant ?? "the recipe itself"})`,
    });
  const stages = tools.rows.filter((row) => row.task === `${armsTask}+tools`).map((row) => row.after);
  const stage = params.stage ?? stages.at(-1);
  if (stage === undefined)
    throw new CompareArmsError({ code: "compare_arms_missing_row", message: `no ${armsTask}+tools rows` });
  const verdict = judgeArms({
    stage,
    tools: seedValues(tools, stage, `${armsTask}+tools`),
    noTools: seedValues(noTools, stage, armsTask),
  });
  return { verdict, problems: armsPublishProblems(verdict) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { tools: { type: "string" }, "no-tools": { type: "string" }, stage: { type: "string" } },
  });
  if (values.tools === undefined || values["no-tools"] === undefined) {
    process.stderr.write(
      "usage: compare-arms.js --tools <tools-arm seeds run> --no-tools <no-tools seeds run> [--stage NAME]\n",
    );
    process.exit(2);
  }
  try {
    const { verdict, problems } = await compareArms({
      toolsRun: values.tools,
      noToolsRun: values["no-tools"],
      ...(values.stage === undefined ? {} : { stage: values.stage }),
    });
    process.stdout.write(
      `${JSON.stringify({ statement: verdict.statement, status: verdict.status, explanation: verdict.explanation, seeds: verdict.seeds, differences: verdict.test?.differences ?? [], problems })}\n`,
    );
    process.exit(problems.length === 0 ? 0 : 1);
  } catch (error) {
    process.stderr.write(`compare-arms: ${(error as Error).message}\n`);
    process.exit(2);
  }
}
