/**
 * Reads open-instruct's argument dataclasses from its Python source: the fields
 * transformers' `HfArgumentParser` (open-instruct's `ArgumentParserPlus`) turns into
 * command-line flags, with their type, default and line. Used to (re)generate
 * `flag-tables.generated.ts` from a clone (scripts/extract-open-instruct-flags.mjs) and by the
 * test that re-checks that file when a clone is available.
 */

/** How HfArgumentParser parses a field's value. */
export type FlagKind = "str" | "int" | "float" | "bool" | "dict" | "choice";

/** One command-line flag of a script at a commit. */
export interface FlagDefinition {
  /** The flag without dashes (the dataclass field name). */
  name: string;
  kind: FlagKind;
  /** `nargs="+"` (a `List[...]` field): one or more values. */
  list: boolean;
  /** Allowed values of a `Literal[...]` field. */
  choices?: readonly string[];
  /** The annotation as written, e.g. `Optional[List[str]]`. */
  annotation: string;
  /** The default as written (first line), e.g. `None`, `"linear"`, `field(`. */
  default: string;
  /** The source file and 1-based line of the field. */
  file: string;
  line: number;
}

/** The dataclasses one script's parser is built from (in the parser's order). */
export interface ScriptParser {
  commit: string;
  script: string;
  /** `[file, class]` pairs, e.g. `["open_instruct/utils.py", "TokenizerConfig"]`. */
  dataclasses: ReadonlyArray<readonly [string, string]>;
  /** Where the parser is built (file:line), for the citation. */
  parserAt: string;
}

/** The parsers of the supported scripts, per commit (read off each script's `__main__`). */
export const openInstructParsers: readonly ScriptParser[] = [
  {
    commit: "e363290",
    script: "open_instruct/finetune.py",
    dataclasses: [["open_instruct/finetune.py", "FlatArguments"]],
    parserAt: "open_instruct/finetune.py:1104",
  },
  {
    commit: "e363290",
    script: "open_instruct/dpo_tune.py",
    dataclasses: [["open_instruct/dpo_tune.py", "FlatArguments"]],
    parserAt: "open_instruct/dpo_tune.py:1190",
  },
  {
    commit: "e363290",
    script: "open_instruct/ppo_vllm_thread_ray_gtrl.py",
    dataclasses: [
      ["open_instruct/ppo_vllm_thread_ray_gtrl.py", "Args"],
      ["open_instruct/dataset_processor.py", "DatasetConfig"],
      ["open_instruct/model_utils.py", "ModelConfig"],
    ],
    parserAt: "open_instruct/ppo_vllm_thread_ray_gtrl.py:1802",
  },
  {
    commit: "89b4f62",
    script: "open_instruct/finetune.py",
    dataclasses: [
      ["open_instruct/finetune.py", "FlatArguments"],
      ["open_instruct/dataset_transformation.py", "TokenizerConfig"],
    ],
    parserAt: "open_instruct/finetune.py:942",
  },
  {
    commit: "89b4f62",
    script: "open_instruct/dpo_tune_cache.py",
    dataclasses: [
      ["open_instruct/dpo_tune_cache.py", "FlatArguments"],
      ["open_instruct/dataset_transformation.py", "TokenizerConfig"],
    ],
    parserAt: "open_instruct/dpo_tune_cache.py:1087",
  },
  {
    commit: "89b4f62",
    script: "open_instruct/ppo_vllm_thread_ray_gtrl.py",
    dataclasses: [
      ["open_instruct/ppo_vllm_thread_ray_gtrl.py", "Args"],
      ["open_instruct/dataset_transformation.py", "TokenizerConfig"],
      ["open_instruct/model_utils.py", "ModelConfig"],
    ],
    parserAt: "open_instruct/ppo_vllm_thread_ray_gtrl.py:1873",
  },
  {
    commit: "89b4f62",
    script: "open_instruct/grpo_vllm_thread_ray_gtrl.py",
    dataclasses: [
      ["open_instruct/grpo_vllm_thread_ray_gtrl.py", "Args"],
      ["open_instruct/dataset_transformation.py", "TokenizerConfig"],
      ["open_instruct/model_utils.py", "ModelConfig"],
    ],
    parserAt: "open_instruct/grpo_vllm_thread_ray_gtrl.py:1838",
  },
  {
    commit: "89b4f62",
    script: "open_instruct/grpo_fast.py",
    dataclasses: [
      ["open_instruct/grpo_fast.py", "Args"],
      ["open_instruct/dataset_transformation.py", "TokenizerConfig"],
      ["open_instruct/model_utils.py", "ModelConfig"],
    ],
    parserAt: "open_instruct/grpo_fast.py:1808",
  },
  {
    commit: "e6c3044",
    script: "open_instruct/finetune.py",
    dataclasses: [
      ["open_instruct/finetune.py", "FlatArguments"],
      ["open_instruct/dataset_transformation.py", "TokenizerConfig"],
    ],
    parserAt: "open_instruct/finetune.py:1034",
  },
  {
    // GRPOExperimentConfig's own fields, then its bases (olmo_core_utils), then the other
    // dataclasses of the parser; EnvsConfig holds the tool flags.
    commit: "e6c3044",
    script: "open_instruct/grpo_fast.py",
    dataclasses: [
      ["open_instruct/grpo_utils.py", "GRPOExperimentConfig"],
      ["open_instruct/olmo_core_utils.py", "ExperimentConfig"],
      ["open_instruct/olmo_core_utils.py", "TrainingConfig"],
      ["open_instruct/olmo_core_utils.py", "LoggingConfig"],
      ["open_instruct/olmo_core_utils.py", "CheckpointConfig"],
      ["open_instruct/dataset_transformation.py", "TokenizerConfig"],
      ["open_instruct/model_utils.py", "ModelConfig"],
      ["open_instruct/data_loader.py", "StreamingDataLoaderConfig"],
      ["open_instruct/data_loader.py", "VLLMConfig"],
      ["open_instruct/environments/tools/utils.py", "EnvsConfig"],
    ],
    parserAt: "open_instruct/grpo_fast.py:2392",
  },
];

/** Open brackets minus closed ones in a Python fragment (strings ignored). */
function bracketDepth(text: string): number {
  let depth = 0;
  let quote: string | null = null;
  for (const character of text) {
    if (quote !== null) {
      if (character === quote) quote = null;
    } else if (character === '"' || character === "'") quote = character;
    else if (character === "#") break;
    else if (character === "[" || character === "(") depth++;
    else if (character === "]" || character === ")") depth--;
  }
  return depth;
}

/** Splits `a: T = d` at the first `=` outside brackets. */
function splitDefault(rest: string): { annotation: string; default: string } {
  let depth = 0;
  for (let index = 0; index < rest.length; index++) {
    const character = rest[index];
    if (character === "[" || character === "(") depth++;
    else if (character === "]" || character === ")") depth--;
    else if (character === "=" && depth === 0)
      return {
        annotation: rest.slice(0, index).trim(),
        default: rest
          .slice(index + 1)
          .replace(/\s+#.*$/, "")
          .trim(),
      };
  }
  return { annotation: rest.trim(), default: "" };
}

/** The `default=` (or `default_factory=`) of a `field(...)` call, as written. */
function fieldDefault(call: string): string {
  const factory = /default_factory\s*=\s*(lambda:\s*\[[^\]]*\]|[\w.]+)/.exec(call);
  if (factory?.[1] !== undefined) return factory[1];
  const plain = /\bdefault\s*=\s*("[^"]*"|'[^']*'|[^,()\s]+)/.exec(call);
  return plain?.[1] ?? "";
}

/** HfArgumentParser's reading of an annotation: its value kind, `nargs="+"`, and choices. */
export function classifyAnnotation(annotation: string): Pick<FlagDefinition, "kind" | "list" | "choices"> {
  let text = annotation.replace(/\s+/g, "");
  const optional = /^Optional\[(.*)\]$/.exec(text);
  if (optional?.[1] !== undefined) text = optional[1];
  // PEP 604: `int | None`, `list[str] | None` (newer open-instruct).
  const pep604 = /^(.*)\|None$/.exec(text) ?? /^None\|(.*)$/.exec(text);
  if (pep604?.[1] !== undefined) text = pep604[1];
  const union = /^Union\[(.*),None\]$/.exec(text);
  if (union?.[1] !== undefined) text = union[1];
  let list = false;
  const listed = /^(?:List|list)\[(.*)\]$/.exec(text);
  if (listed?.[1] !== undefined) {
    list = true;
    text = listed[1];
  }
  const literal = /^Literal\[(.*)\]$/.exec(text);
  if (literal?.[1] !== undefined) {
    // Quoted strings, or bare numbers (`Literal[0, 1, 2, 3]`: argparse compares the typed value).
    const choices = [...literal[1].matchAll(/"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?)/g)].map(
      (match) => match[1] ?? match[2] ?? match[3] ?? "",
    );
    return { kind: "choice", list, choices };
  }
  if (text === "bool") return { kind: "bool", list };
  if (text === "int") return { kind: "int", list };
  if (text === "float") return { kind: "float", list };
  if (text === "dict" || text.startsWith("dict[") || text.startsWith("Dict")) return { kind: "dict", list };
  return { kind: "str", list };
}

/** The init fields of `className` in a Python file (HfArgumentParser skips `init=False`). */
export function dataclassFields(params: {
  source: string;
  file: string;
  className: string;
}): FlagDefinition[] {
  const lines = params.source.split("\n");
  const start = lines.findIndex((line) => new RegExp(`^class ${params.className}\\b`).test(line));
  if (start < 0) throw new Error(`${params.file}: no class ${params.className}`);
  const fields: FlagDefinition[] = [];
  // A header over several lines (`class C(\n    Base,\n):`) ends where its brackets close.
  let bodyStart = start + 1;
  let header = lines[start] ?? "";
  while (bracketDepth(header) > 0 && bodyStart < lines.length) header += lines[bodyStart++] ?? "";
  for (let index = bodyStart; index < lines.length; index++) {
    const line = lines[index] ?? "";
    if (/^\S/.test(line)) break;
    const match = /^ {4}([A-Za-z_]\w*)\s*:\s*(.+)$/.exec(line);
    if (match === null || match[1] === undefined || match[2] === undefined) continue;
    // A multi-line annotation (`Literal[\n  "a", "b"\n] = "a"`): join lines until brackets balance.
    let declaration = match[2];
    for (
      let next = index + 1;
      bracketDepth(declaration) > 0 && next < lines.length && next < index + 12;
      next++
    )
      declaration += ` ${(lines[next] ?? "").trim()}`;
    const { annotation, default: defaultText } = splitDefault(declaration);
    if (annotation.startsWith("ClassVar")) continue;
    // A multi-line field(...) default: look for init=False until the call closes.
    let call = defaultText;
    for (
      let next = index + 1;
      call.startsWith("field(") && next < lines.length && next < index + 12;
      next++
    ) {
      if (/^ {4}\S/.test(lines[next] ?? "")) break;
      call += lines[next] ?? "";
    }
    if (/init\s*=\s*False/.test(call)) continue;
    fields.push({
      name: match[1],
      ...classifyAnnotation(annotation),
      annotation,
      default: call.startsWith("field(") ? fieldDefault(call) : defaultText,
      file: params.file,
      line: index + 1,
    });
  }
  return fields;
}

/** One script's flags at one commit, by flag name (later dataclasses never shadow earlier ones). */
export interface ScriptFlagTable {
  commit: string;
  script: string;
  parserAt: string;
  flags: Record<string, FlagDefinition>;
}

/** Reads every parser of {@link openInstructParsers} through `show(commit, file)` (e.g. `git show`). */
export function extractFlagTables(params: {
  show: (commit: string, file: string) => string;
}): ScriptFlagTable[] {
  return openInstructParsers.map((parser) => {
    const flags: Record<string, FlagDefinition> = {};
    for (const [file, className] of parser.dataclasses) {
      const source = params.show(parser.commit, file);
      for (const field of dataclassFields({ source, file, className }))
        if (flags[field.name] === undefined) flags[field.name] = field;
    }
    return { commit: parser.commit, script: parser.script, parserAt: parser.parserAt, flags };
  });
}

/** The generated TypeScript module holding the tables. */
export function renderFlagTables(params: { tables: readonly ScriptFlagTable[] }): string {
  return `// Generated by scripts/extract-open-instruct-flags.mjs from allenai/open-instruct's source; do not edit.
// Each flag: the dataclass field HfArgumentParser turns into --<name>, its kind, and file:line.
import type { ScriptFlagTable } from "./dataclass-fields.js";

export const generatedFlagTables: readonly ScriptFlagTable[] = ${JSON.stringify(params.tables, null, 2)};
`;
}
