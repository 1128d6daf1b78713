/** Task and suite registries: the shipped ones plus any a caller registers (e.g. a recipe's). */
import { parseWithSchema } from "@posttrain/core";
import { EvaluationError } from "./errors.js";
import {
  defineTask,
  type SuiteSpec,
  suiteSpecSchema,
  type TaskSpec,
  type TaskSpecInput,
} from "./task-spec.js";
import { builtinTasks } from "./tasks/builtin.js";

const tasks = new Map<string, TaskSpec>(builtinTasks.map((task) => [task.name, task]));

const suites = new Map<string, SuiteSpec>(
  (
    [
      {
        name: "tulu3_dev",
        version: "1.0.0",
        description: "The Tulu 3 development tasks we ship: GSM8K, MATH (Minerva), IFEval, HumanEval",
        tasks: ["gsm8k", "minerva_math", "ifeval", "humaneval"],
      },
      { name: "math", version: "1.0.0", description: "GSM8K and MATH-500", tasks: ["gsm8k", "math500"] },
      {
        name: "micro",
        version: "3.0.0",
        description: "The micro recipe's held-out tasks",
        tasks: ["micro_gsm", "micro_gsm_sampled", "micro_ifeval", "micro_preference"],
      },
    ] satisfies Array<SuiteSpec>
  ).map((suite) => [suite.name, suite]),
);

/** Every registered task by name. */
export const taskRegistry: ReadonlyMap<string, TaskSpec> = tasks;
/** Every registered suite by name. */
export const suiteRegistry: ReadonlyMap<string, SuiteSpec> = suites;

/** Registers (or replaces) a task; returns the validated spec. */
export function registerTask(params: { spec: TaskSpecInput | unknown }): TaskSpec {
  const spec = defineTask({ spec: params.spec });
  tasks.set(spec.name, spec);
  return spec;
}

/** Registers (or replaces) a suite; every task must be registered. */
export function registerSuite(params: { spec: unknown }): SuiteSpec {
  const spec = parseWithSchema({ schema: suiteSpecSchema, value: params.spec, label: "suite spec" });
  for (const name of spec.tasks) getTask({ name });
  suites.set(spec.name, spec);
  return spec;
}

/** The task named `name`; throws `eval_unknown_task` listing the known names. */
export function getTask(params: { name: string }): TaskSpec {
  const task = tasks.get(params.name);
  if (task === undefined) {
    throw new EvaluationError({
      code: "eval_unknown_task",
      message: `unknown eval task "${params.name}" (known: ${[...tasks.keys()].join(", ")})`,
      details: { name: params.name, known: [...tasks.keys()] },
    });
  }
  return task;
}

/** The suite named `name`; throws `eval_unknown_suite` listing the known names. */
export function getSuite(params: { name: string }): SuiteSpec {
  const suite = suites.get(params.name);
  if (suite === undefined) {
    throw new EvaluationError({
      code: "eval_unknown_suite",
      message: `unknown eval suite "${params.name}" (known: ${[...suites.keys()].join(", ")})`,
      details: { name: params.name, known: [...suites.keys()] },
    });
  }
  return suite;
}
