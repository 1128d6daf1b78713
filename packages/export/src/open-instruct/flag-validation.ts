/**
 * Checks an argv against one script's flags at one commit, as transformers' HfArgumentParser
 * (argparse underneath) would parse it: the flag must exist (argparse's unique-prefix
 * abbreviations and the `--no_<flag>` form of a bool defaulting to True included), take the
 * right number of values, and each value must parse as the field's type.
 */
import type { FlagDefinition, ScriptFlagTable } from "./dataclass-fields.js";
import { generatedFlagTables } from "./flag-tables.generated.js";

/** The flag table of `script` at `commit` (a short SHA, or a longer one starting with it). */
export function scriptFlagTable(params: { commit: string; script: string }): ScriptFlagTable | undefined {
  const wanted = params.commit.toLowerCase();
  return generatedFlagTables.find(
    (table) =>
      table.script === params.script && (wanted.startsWith(table.commit) || table.commit.startsWith(wanted)),
  );
}

/** A flag resolved to its field; `negated` for `--no_<flag>`. */
export interface ResolvedFlag {
  definition: FlagDefinition;
  negated: boolean;
}

/** What argparse makes of `--name`: the exact field, `--no_<bool>`, or a unique prefix; else undefined. */
export function resolveFlag(params: { table: ScriptFlagTable; flag: string }): ResolvedFlag | undefined {
  const name = params.flag.replace(/^--/, "");
  const flags = params.table.flags;
  const exact = flags[name];
  if (exact !== undefined) return { definition: exact, negated: false };
  const negatable = (definition: FlagDefinition) =>
    definition.kind === "bool" && definition.default === "True";
  if (name.startsWith("no_")) {
    const positive = flags[name.slice(3)];
    if (positive !== undefined && negatable(positive)) return { definition: positive, negated: true };
  }
  const candidates = Object.values(flags).filter((definition) => definition.name.startsWith(name));
  const negations = Object.values(flags).filter(
    (definition) => negatable(definition) && `no_${definition.name}`.startsWith(name),
  );
  if (candidates.length + negations.length !== 1) return undefined;
  const [only] = candidates;
  if (only !== undefined) return { definition: only, negated: false };
  const [negation] = negations;
  return negation === undefined ? undefined : { definition: negation, negated: true };
}

const booleanWords = new Set(["yes", "true", "t", "y", "1", "no", "false", "f", "n", "0"]);
const pythonInteger = /^[-+]?\d+$/;
const pythonFloat = /^[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?|inf|infinity|nan)$/i;

/** The problem with `values` for `definition`, or null. */
function valueProblem(
  definition: FlagDefinition,
  values: readonly string[],
  negated: boolean,
): string | null {
  if (negated) return values.length === 0 ? null : `--no_${definition.name} takes no value`;
  if (definition.kind === "bool" && !definition.list) {
    if (values.length > 1) return "a bool flag takes at most one value";
    const [value] = values;
    if (value !== undefined && !booleanWords.has(value.toLowerCase()))
      return `${JSON.stringify(value)} is not a bool (true/false/yes/no/1/0)`;
    return null;
  }
  if (definition.list ? values.length === 0 : values.length !== 1)
    return definition.list ? "takes one or more values" : `takes exactly one value, got ${values.length}`;
  for (const value of values) {
    if (definition.kind === "int" && !pythonInteger.test(value))
      return `${JSON.stringify(value)} is not an int`;
    if (definition.kind === "float" && !pythonFloat.test(value))
      return `${JSON.stringify(value)} is not a float`;
    if (definition.kind === "bool" && !booleanWords.has(value.toLowerCase()))
      return `${JSON.stringify(value)} is not a bool`;
    if (definition.kind === "choice" && !(definition.choices ?? []).includes(value))
      return `${JSON.stringify(value)} is not one of ${(definition.choices ?? []).join(", ")}`;
  }
  return null;
}

/** One `--flag value…` group of an argv. */
export interface ArgumentGroup {
  flag: string;
  values: string[];
}

/** Groups an argv into `--flag value…` runs (a leading value without a flag is its own group). */
export function argumentGroups(argv: readonly string[]): ArgumentGroup[] {
  const groups: ArgumentGroup[] = [];
  for (const part of argv) {
    const last = groups[groups.length - 1];
    if (/^--[A-Za-z]/.test(part) || last === undefined) groups.push({ flag: part, values: [] });
    else last.values.push(part);
  }
  return groups;
}

/** A flag argparse would reject (or parse to another type than intended). */
export interface FlagProblem {
  flag: string;
  message: string;
}

/**
 * Every problem HfArgumentParser would have with `argv` for `script` at `commit`; an empty
 * list means it parses. A commit/script without a table is one problem.
 */
export function validateArguments(params: {
  commit: string;
  script: string;
  arguments: readonly string[];
}): FlagProblem[] {
  const table = scriptFlagTable(params);
  if (table === undefined)
    return [{ flag: params.script, message: `no flag table for ${params.script} at ${params.commit}` }];
  const problems: FlagProblem[] = [];
  const seen = new Map<string, string>();
  for (const group of argumentGroups(params.arguments)) {
    const resolved = resolveFlag({ table, flag: group.flag });
    if (!group.flag.startsWith("--") || resolved === undefined) {
      problems.push({
        flag: group.flag,
        message: `${params.script} at ${table.commit} has no flag ${group.flag}`,
      });
      continue;
    }
    const problem = valueProblem(resolved.definition, group.values, resolved.negated);
    if (problem !== null)
      problems.push({
        flag: group.flag,
        message: `${group.flag} (${resolved.definition.annotation}, ${resolved.definition.file}:${resolved.definition.line}): ${problem}`,
      });
    const earlier = seen.get(resolved.definition.name);
    if (earlier !== undefined)
      problems.push({ flag: group.flag, message: `${group.flag} repeats ${earlier} (the last one wins)` });
    seen.set(resolved.definition.name, group.flag);
  }
  return problems;
}

/** The value a field ends up with, normalised for comparison (numbers by value, bools as true/false). */
export function effectiveValue(params: {
  definition: FlagDefinition;
  values: readonly string[] | null;
  negated?: boolean;
}): string {
  const { definition } = params;
  if (params.values === null) return normaliseDefault(definition);
  if (params.negated === true) return "false";
  if (definition.kind === "bool" && !definition.list) {
    const [value] = params.values;
    return value === undefined
      ? "true"
      : ["yes", "true", "t", "y", "1"].includes(value.toLowerCase())
        ? "true"
        : "false";
  }
  return params.values.map((value) => normaliseScalar(definition, value)).join(" ");
}

function normaliseScalar(definition: FlagDefinition, value: string): string {
  if ((definition.kind === "float" || definition.kind === "int") && pythonFloat.test(value))
    return String(Number(value));
  return value;
}

function normaliseDefault(definition: FlagDefinition): string {
  const text = definition.default.trim();
  if (text === "" || text === "None") return "(unset)";
  if (text === "True") return "true";
  if (text === "False") return "false";
  const quoted = /^(["'])(.*)\1$/.exec(text);
  if (quoted?.[2] !== undefined) return quoted[2];
  const list = /^lambda:\s*\[(.*)\]$/.exec(text);
  if (list?.[1] !== undefined)
    return [...list[1].matchAll(/"([^"]*)"|'([^']*)'|([^,\s]+)/g)]
      .map((match) => normaliseScalar(definition, match[1] ?? match[2] ?? match[3] ?? ""))
      .join(" ");
  return normaliseScalar(definition, text);
}
