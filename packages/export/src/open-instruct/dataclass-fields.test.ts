import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { classifyAnnotation, dataclassFields, extractFlagTables } from "./dataclass-fields.js";
import { generatedFlagTables } from "./flag-tables.generated.js";
import { deepspeedConfig } from "./launch.js";
import { publishedCommands } from "./published-commands.js";

/** A clone of allenai/open-instruct (its .git folder); the source checks skip without one. */
const gitDirectory = process.env.OPEN_INSTRUCT_GIT_DIR ?? "/work/.mirror/allenai+open-instruct/repo";
const haveClone = existsSync(gitDirectory);
const show = (commit: string, file: string) =>
  execFileSync("git", ["--git-dir", gitDirectory, "show", `${commit}:${file}`], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });

describe("reading HfArgumentParser fields from a dataclass", () => {
  const source = [
    "import os",
    "@dataclass",
    "class Args:",
    '    """Docs."""',
    "    seed: int = 1",
    '    """The seed"""',
    "    lr_scheduler_type: Literal[",
    '        "linear", "constant"',
    '    ] = "linear"',
    "    splits: Optional[List[str]] = None",
    '    names: list[str] = field(default_factory=lambda: ["a", "b"])',
    "    clip: float = field(",
    "        default=-1,",
    '        metadata={"help": "x"},',
    "    )",
    "    hidden: int = field(",
    "        init=False,",
    "    )",
    '    template: str = "tulu"  # a comment',
    "    flag: bool = True",
    "    mixer: Optional[dict] = None",
    "",
    "    def helper(self):",
    "        local: int = 3",
    "",
    "class Other:",
    "    outside: int = 2",
  ].join("\n");
  const fields = Object.fromEntries(
    dataclassFields({ source, file: "args.py", className: "Args" }).map((field) => [field.name, field]),
  );

  it("keeps init fields with kind, list-ness, choices, default and line", () => {
    expect(Object.keys(fields)).toEqual([
      "seed",
      "lr_scheduler_type",
      "splits",
      "names",
      "clip",
      "template",
      "flag",
      "mixer",
    ]);
    expect(fields.seed).toMatchObject({ kind: "int", list: false, default: "1", line: 5 });
    expect(fields.lr_scheduler_type).toMatchObject({
      kind: "choice",
      choices: ["linear", "constant"],
      default: '"linear"',
    });
    expect(fields.splits).toMatchObject({ kind: "str", list: true, default: "None" });
    expect(fields.names).toMatchObject({ kind: "str", list: true, default: 'lambda: ["a", "b"]' });
    expect(fields.clip).toMatchObject({ kind: "float", default: "-1", line: 12 });
    expect(fields.template).toMatchObject({ kind: "str", default: '"tulu"' });
    expect(fields.flag).toMatchObject({ kind: "bool", default: "True" });
    expect(fields.mixer?.kind).toBe("dict");
  });

  it("classifies Optional, Union with None and Literal lists", () => {
    expect(classifyAnnotation("Optional[Literal['eos', 'period']]")).toEqual({
      kind: "choice",
      list: false,
      choices: ["eos", "period"],
    });
    expect(classifyAnnotation("Union[float, None]")).toEqual({ kind: "float", list: false });
    expect(classifyAnnotation("List[int]")).toEqual({ kind: "int", list: true });
  });
});

describe.skipIf(!haveClone)("against open-instruct's source (OPEN_INSTRUCT_GIT_DIR)", () => {
  it("flag-tables.generated.ts is what the commits' dataclasses say", () => {
    const tables = extractFlagTables({ show });
    expect(tables).toEqual(JSON.parse(JSON.stringify(generatedFlagTables)));
  });

  it("the bundle's DeepSpeed configs are the published runs' config files", () => {
    const conf = (commit: string, name: string) =>
      JSON.parse(show(commit, `configs/ds_configs/${name}`)) as Record<string, unknown>;
    expect(deepspeedConfig({ stage: 3 })).toEqual(conf("e363290", "stage3_no_offloading_accelerate.conf"));
    expect(deepspeedConfig({ stage: 3 })).toEqual(conf("89b4f62", "stage3_no_offloading_accelerate.conf"));
    expect(deepspeedConfig({ stage: 2 })).toEqual(conf("89b4f62", "stage2_accelerate.conf"));
  });

  it("each published command is the doc's text at its commit and lines (variables substituted)", () => {
    for (const published of publishedCommands) {
      const lines = show(published.commit, published.file).split("\n");
      const text = lines
        .slice(published.lines[0] - 1, published.lines[1])
        .map((line) => line.trimEnd().replace(/\\$/, ""))
        .join(" ");
      for (const [name, variable] of Object.entries(published.variables))
        expect(lines[variable.line - 1]?.trim()).toBe(`${name}=${variable.value}`);
      const tokens = [...text.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map(
        (match) => match[1] ?? match[2] ?? match[3] ?? "",
      );
      const start = tokens.indexOf(published.script);
      expect(start, `${published.id}: script not found`).toBeGreaterThan(-1);
      const argv = tokens
        .slice(start + 1)
        .map((token) =>
          token.startsWith("$") ? (published.variables[token.slice(1)]?.value ?? token) : token,
        );
      expect(argv, published.id).toEqual([...published.arguments]);
    }
  });
});
