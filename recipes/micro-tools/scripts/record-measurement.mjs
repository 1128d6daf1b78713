#!/usr/bin/env node
// Writes recipes/micro-tools/measurements/<date>-seeds-1-5.json from the two arms' `--seeds`
// run folders: per seed, for every stage each eval row's accuracy and correct count, the model hash, the last
// training metrics and the wall time; the machine (lscpu) and the commands that made them.
//   node recipes/micro-tools/scripts/record-measurement.mjs <tools-seeds-run> <no-tools-seeds-run> <out.json> [machine note]
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [toolsRun, noToolsRun, out, note = ""] = process.argv.slice(2);
if (out === undefined) {
  console.error(
    "usage: record-measurement.mjs <tools-seeds-run> <no-tools-seeds-run> <out.json> [machine note]",
  );
  process.exit(2);
}
const lscpu = execFileSync("lscpu", { encoding: "utf8" });
const field = (name) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(lscpu)?.[1]?.trim() ?? null;
const flags = (field("Flags") ?? "").split(" ");

/** A run folder's summary.json, or exit 2 naming the file that is missing or not JSON. */
function readSummary(directory) {
  const file = join(directory, "summary.json");
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    console.error(
      `record-measurement: cannot read ${file} (${error.message}); give the folders \`posttrain run … --seeds 5\` printed`,
    );
    process.exit(2);
  }
}

function arm(run, command) {
  const aggregate = readSummary(run);
  const seeds = aggregate.runs.map((entry) => {
    const summary = readSummary(entry.runDirectory);
    return {
      seed: entry.seed,
      runDirectory: entry.runDirectory,
      status: summary.status,
      wallSeconds: summary.wallSeconds,
      stages: Object.fromEntries(
        summary.stages.map((stage) => [
          stage.name,
          {
            wallSeconds: stage.wallSeconds,
            evalWallSeconds: stage.evalWallSeconds,
            modelSha256: stage.modelSha256,
            trainingMetrics: stage.trainingMetrics,
            evals: Object.fromEntries(
              Object.entries(stage.evals).map(([task, metrics]) => [
                task,
                {
                  accuracy: metrics.accuracy.value,
                  correct: Math.round(metrics.accuracy.value * metrics.accuracy.count),
                  items: metrics.accuracy.count,
                },
              ]),
            ),
          },
        ]),
      ),
    };
  });
  return { command, seedsRun: run, recipe: aggregate.recipe, seeds, recordedRows: aggregate.recordedRows };
}

const measurement = {
  date: new Date().toISOString().slice(0, 10),
  recipe: "micro-tools 0.1.0",
  machine: {
    cpu: field("Model name"),
    cpus: Number(field("CPU\\(s\\)")),
    instructionSets: ["sse4_2", "avx", "avx2", "avx512f", "avx512_vnni", "amx_tile"].filter((flag) =>
      flags.includes(flag),
    ),
    threads: 2,
    note,
  },
  arms: {
    tools: arm(toolsRun, "posttrain run recipes/micro-tools --seeds 5"),
    noTools: arm(noToolsRun, "posttrain run recipes/micro-tools --variant no-tools --seeds 5"),
  },
};
writeFileSync(out, `${JSON.stringify(measurement, null, 2)}\n`);
console.log(JSON.stringify({ written: out }));
