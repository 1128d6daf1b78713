import {
  calibrateFromRuns,
  formatPlan,
  loadRecipe,
  measureMatmulGflops,
  planRecipe,
  probeRecipe,
  readLock,
  readRecordedRuns,
} from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

export function register(program: Command): void {
  program
    .command("plan")
    .description(
      "print what a run of a recipe needs (tokens, FLOPs, memory, estimated time on this machine) without downloading anything",
    )
    .argument("<recipe>", "recipe package folder, module file or installed package name")
    .option("--variant <name>", "plan a variant (e.g. smoke)")
    .option("--efficiency <share>", "share of the measured MatMul peak a training step reaches", "0.5")
    .option("--no-measure", "skip the MatMul measurement (stage types never run here get no time estimate)")
    .option(
      "--runs <directory>",
      "earlier runs of this recipe to calibrate the time from (each stage type's measured FLOP/s)",
      "runs",
    )
    .option("--no-calibrate", "ignore earlier runs")
    .option(
      "--no-probe",
      "do not run the first steps of each stage here (a few seconds for a small recipe) to time stages no earlier run timed",
    )
    .option("--probe-steps <count>", "steps of each stage the probe runs (at least 2)", "3")
    .option("--json", "print the plan as JSON")
    .action(
      async (
        reference: string,
        options: {
          variant?: string;
          efficiency: string;
          measure: boolean;
          runs: string;
          calibrate: boolean;
          probe: boolean;
          probeSteps: string;
          json?: boolean;
        },
      ) => {
        const efficiency = Number(options.efficiency);
        if (!(efficiency > 0 && efficiency <= 1)) throw new UsageError("--efficiency must be in (0, 1]");
        const probeSteps = Number(options.probeSteps);
        if (!Number.isInteger(probeSteps) || probeSteps < 2)
          throw new UsageError("--probe-steps must be an integer of at least 2");
        const loaded = await loadRecipe({
          reference,
          ...(options.variant === undefined ? {} : { variant: options.variant }),
        });
        const lock = await readLock({ loaded });
        // Only runs of the same variant: a smoke run's few steps are mostly fixed cost (graph
        // compilation, start-up), and would make a full run look hours long.
        const recorded = options.calibrate
          ? await readRecordedRuns({ runsDirectory: options.runs, recipeName: loaded.recipe.name })
          : [];
        const calibration = calibrateFromRuns({
          runs: recorded.filter((run) => (run.variant ?? null) === loaded.variant),
        });
        // Stages no earlier run of this variant timed: run their first steps here.
        const uncalibrated = loaded.recipe.stages.some(
          (stage) => calibration?.flopsPerSecond[stage.type] === undefined,
        );
        const probe =
          options.probe && uncalibrated ? await probeRecipe({ loaded, lock, steps: probeSteps }) : null;
        const plan = planRecipe({
          recipe: loaded.recipe,
          lock,
          calibration,
          probe,
          ...(options.measure
            ? { throughput: { matmulGflops: await measureMatmulGflops(), efficiency } }
            : {}),
        });
        output({ json: options.json, value: plan, human: () => formatPlan(plan) });
      },
    );
}
