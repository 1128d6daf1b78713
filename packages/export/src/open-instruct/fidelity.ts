/**
 * Holds an exported stage command against the published one (`published-commands.ts`), value
 * for value, as the target commit's parser reads both: each flag is resolved to its dataclass
 * field (abbreviations and `--no_` forms included), a flag either side leaves out takes the
 * field's default at that commit, numbers compare by value and bools by truth. Local data files
 * compare as the Hub dataset they were materialised from.
 */
import type { ReferenceStage } from "@posttrain/recipe";
import type { FlagDefinition, ScriptFlagTable } from "./dataclass-fields.js";
import {
  argumentGroups,
  effectiveValue,
  type FlagProblem,
  resolveFlag,
  scriptFlagTable,
  validateArguments,
} from "./flag-validation.js";
import type { PublishedCommand } from "./published-commands.js";
import type { StageCommand } from "./translate-support.js";

/**
 * Flags the bundle owns: where it writes, what it calls the run, and that it neither reports
 * to wandb nor uploads nor launches Ai2's Beaker jobs. They do not change the trained model.
 */
export const bundleOwnedFlags: Readonly<Record<string, string>> = {
  output_dir: "the bundle's output/<stage> folder, which the next stage reads",
  exp_name: "the bundle names each run after its stage (the run folder the next stage finds)",
  run_name: "the bundle names each run after its stage",
  with_tracking: "no experiment tracking unless asked (wandb needs an account)",
  report_to: "no experiment tracking unless asked",
  push_to_hub: "a reproduction does not upload unless asked (--push_to_hub defaults to True)",
  try_launch_beaker_eval_jobs: "Ai2's Beaker evaluation jobs do not exist outside Ai2",
  try_launch_beaker_eval_jobs_on_weka: "Ai2's Beaker evaluation jobs do not exist outside Ai2",
  dataset_mix_dir: "where open-instruct writes a copy of the mixed data; the bundle's data/ holds it",
  do_not_randomize_output_dir: "the bundle keeps the output folder fixed so the next stage finds it",
};

/** One flag's comparison. */
export interface FidelityRow {
  /** `--<field>` (the canonical name), or `(launcher) …` for the launch itself. */
  flag: string;
  ours: string;
  published: string;
  /**
   * `same`; `bundle` (a bundle-owned flag, reason given); `deliberate` (a difference the recipe
   * lists, reason given); `different` (an unexplained difference: the export is not faithful);
   * `missing` (the published command passes it, ours does not and no reason is recorded).
   */
  status: "same" | "bundle" | "deliberate" | "different" | "missing";
  reason?: string;
  /** Where the field is defined at the commit (file:line). */
  definedAt: string;
}

/** A stage's comparison. */
export interface StageFidelity {
  stage: string;
  commit: string;
  script: string;
  published: { id: string; commit: string; file: string; lines: readonly [number, number]; script: string };
  rows: FidelityRow[];
  /** Flags of ours the commit's parser would reject. */
  problems: FlagProblem[];
  /** True when every row is same/bundle/deliberate and there are no problems. */
  faithful: boolean;
}

function valuesByField(params: {
  table: ScriptFlagTable;
  argv: readonly string[];
  rewrite?: (value: string) => string;
}): Map<string, { definition: FlagDefinition; value: string; flag: string }> {
  const result = new Map<string, { definition: FlagDefinition; value: string; flag: string }>();
  for (const group of argumentGroups(params.argv)) {
    const resolved = resolveFlag({ table: params.table, flag: group.flag });
    if (resolved === undefined) continue;
    const values = group.values.map((value) => params.rewrite?.(value) ?? value);
    result.set(resolved.definition.name, {
      definition: resolved.definition,
      value: effectiveValue({ definition: resolved.definition, values, negated: resolved.negated }),
      flag: group.flag,
    });
  }
  return result;
}

/**
 * Compares `command` (exported at `commit`) with `published`. `localSources` maps each bundle
 * data file to the Hub dataset it was materialised from (compared by name; the pin is ours),
 * `chainedFrom` the model path of a chained stage to the published checkpoint it stands for.
 */
export function compareWithPublished(params: {
  command: StageCommand;
  commit: string;
  published: PublishedCommand;
  reference?: ReferenceStage;
  localSources?: Readonly<Record<string, string>>;
  chainedFrom?: { path: string; repo: string };
}): StageFidelity {
  const { command, published } = params;
  const table = scriptFlagTable({ commit: params.commit, script: command.script });
  const problems = validateArguments({
    commit: params.commit,
    script: command.script,
    arguments: command.arguments,
  });
  const rows: FidelityRow[] = [];
  const deliberate = new Map<string, string>();
  const sources = params.localSources ?? {};
  const rewrite = (value: string) => {
    let text = value;
    for (const [path, repo] of Object.entries(sources)) text = text.split(path).join(repo);
    if (params.chainedFrom !== undefined && text === params.chainedFrom.path) text = params.chainedFrom.repo;
    return text;
  };
  if (command.script !== published.script)
    rows.push({
      flag: "(script)",
      ours: command.script,
      published: published.script,
      status: "different",
      definedAt: `${published.file}:${published.lines[0]}`,
    });
  if (table !== undefined) {
    for (const difference of params.reference?.differences ?? []) {
      const resolved = resolveFlag({ table, flag: difference.flag });
      deliberate.set(resolved?.definition.name ?? difference.flag.replace(/^--/, ""), difference.reason);
    }
    const ours = valuesByField({ table, argv: command.arguments, rewrite });
    const theirs = valuesByField({ table, argv: published.arguments });
    const names = [...new Set([...theirs.keys(), ...ours.keys()])];
    for (const name of names) {
      const our = ours.get(name);
      const their = theirs.get(name);
      const definition = (our ?? their)?.definition;
      if (definition === undefined) continue;
      const oursValue = our?.value ?? effectiveValue({ definition, values: null });
      const publishedValue = their?.value ?? effectiveValue({ definition, values: null });
      const row: FidelityRow = {
        flag: `--${name}`,
        ours: our === undefined ? `${oursValue} (default)` : oursValue,
        published: their === undefined ? `${publishedValue} (default)` : publishedValue,
        status: "same",
        definedAt: `${definition.file}:${definition.line}`,
      };
      const owned = bundleOwnedFlags[name];
      const reason = deliberate.get(name);
      if (owned !== undefined) {
        row.status = "bundle";
        row.reason = owned;
      } else if (oursValue !== publishedValue || (our === undefined && their !== undefined)) {
        if (reason !== undefined) {
          row.status = "deliberate";
          row.reason = reason;
        } else row.status = oursValue === publishedValue ? "missing" : "different";
      }
      rows.push(row);
    }
  }
  const launcherRow = (flag: string, ours: string, publishedValue: string, reasonKey: string) => {
    const reason = deliberate.get(reasonKey);
    rows.push({
      flag,
      ours,
      published: publishedValue,
      status: ours === publishedValue ? "same" : reason === undefined ? "different" : "deliberate",
      ...(ours !== publishedValue && reason !== undefined ? { reason } : {}),
      definedAt: `${published.file}:${published.lines[0]}`,
    });
  };
  launcherRow("(launcher)", command.launcher, published.launcher, "--launcher");
  launcherRow(
    "(deepspeed stage)",
    String(command.deepspeedStage),
    String(published.deepspeedStage),
    "--deepspeed_stage",
  );
  if (published.processes !== null)
    launcherRow(
      "(processes)",
      String(command.batch.processes),
      String(published.processes),
      "--num_processes",
    );
  const faithful =
    problems.length === 0 && rows.every((row) => row.status !== "different" && row.status !== "missing");
  return {
    stage: command.stage,
    commit: params.commit,
    script: command.script,
    published: {
      id: published.id,
      commit: published.commit,
      file: published.file,
      lines: published.lines,
      script: published.script,
    },
    rows,
    problems,
    faithful,
  };
}

/** The comparison as a text table (one block per stage). */
export function formatFidelity(params: { stages: readonly StageFidelity[] }): string {
  const blocks: string[] = [];
  for (const stage of params.stages) {
    const header = `${stage.stage}: ${stage.script} at ${stage.commit} vs ${stage.published.file}:${stage.published.lines[0]}-${stage.published.lines[1]} at ${stage.published.commit} — ${stage.faithful ? "faithful" : "NOT FAITHFUL"}`;
    const widths = [6, 4, 9].map((minimum, column) =>
      Math.max(minimum, ...stage.rows.map((row) => [row.flag, row.ours, row.published][column]?.length ?? 0)),
    );
    const cap = (text: string, width: number) =>
      text.length > 60 ? `${text.slice(0, 57)}...` : text.padEnd(Math.min(width, 60));
    const lines = [
      header,
      `  ${cap("flag", widths[0] ?? 0)}  ${cap("ours", widths[1] ?? 0)}  ${cap("published", widths[2] ?? 0)}  status`,
      ...stage.rows.map(
        (row) =>
          `  ${cap(row.flag, widths[0] ?? 0)}  ${cap(row.ours, widths[1] ?? 0)}  ${cap(row.published, widths[2] ?? 0)}  ${row.status}${row.reason === undefined ? "" : ` (${row.reason})`}`,
      ),
      ...stage.problems.map((problem) => `  PARSE ERROR ${problem.flag}: ${problem.message}`),
    ];
    blocks.push(lines.join("\n"));
  }
  return blocks.join("\n\n");
}
