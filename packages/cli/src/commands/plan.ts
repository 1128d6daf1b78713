import { formatPlan, loadRecipe, measureMatmulGflops, planRecipe, readLock } from "@posttrain/recipe";
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
    .option("--no-measure", "skip the MatMul measurement (no time estimate)")
    .option("--json", "print the plan as JSON")
    .action(
      async (
        reference: string,
        options: { variant?: string; efficiency: string; measure: boolean; json?: boolean },
      ) => {
        const efficiency = Number(options.efficiency);
        if (!(efficiency > 0 && efficiency <= 1)) throw new UsageError("--efficiency must be in (0, 1]");
        const loaded = await loadRecipe({
          reference,
          ...(options.variant === undefined ? {} : { variant: options.variant }),
        });
        const lock = await readLock({ loaded });
        const plan = planRecipe({
          recipe: loaded.recipe,
          lock,
          ...(options.measure
            ? { throughput: { matmulGflops: await measureMatmulGflops(), efficiency } }
            : {}),
        });
        output({ json: options.json, value: plan, human: () => formatPlan(plan) });
      },
    );
}
