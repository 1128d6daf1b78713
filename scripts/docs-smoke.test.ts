// The docs smoke test (issue 20): every command in every README and doc is extracted
// (scripts/docs-smoke.ts states the rule) and
// - a `posttrain` line, however it is launched, must name real commands and real flags;
// - a runnable `posttrain` line (offline, CPU, seconds) is run as written, from the repository
//   root with `posttrain` on PATH (scripts/posttrain.mjs, the root package's bin), and must exit 0;
// - an `npm`/`node scripts/pnpm.mjs` line must name a real script, a `node FILE` line a real file,
//   and a `pnpm` line fails (pnpm is not on PATH after `npm start`);
// - everything else is listed in scripts/docs-smoke-skips.ts with why it is not run (Hub, GPU,
//   a cluster, or minutes of CPU covered by another test), and a stale entry fails.
// It needs the built CLI (packages/cli/dist), which `npm test` builds first.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  type CommandShape,
  checkArguments,
  type DocCommand,
  docFiles,
  extractCommands,
  isPlaceholder,
  isSynopsis,
  posttrainArguments,
  splitWords,
} from "./docs-smoke.js";
import { skippedCommands } from "./docs-smoke-skips.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const programModule = join(root, "packages", "cli", "dist", "program.js");
if (!existsSync(programModule))
  throw new Error(
    `the docs smoke test needs the built CLI: ${programModule} is missing (run \`npm test\` or build)`,
  );
const { createProgram } = (await import(pathToFileURL(programModule).href)) as {
  createProgram: () => CommandShape;
};
const program = createProgram();

const commands: DocCommand[] = docFiles({ root }).flatMap((file) =>
  extractCommands({ file, text: readFileSync(join(root, file), "utf8") }),
);
const skips = new Map(skippedCommands.map((entry) => [entry.command, entry]));
const rootPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
};
/** pnpm's own commands a doc may run through scripts/pnpm.mjs. */
const pnpmCommands = new Set(["install", "exec", "run", "changeset"]);

/**
 * An inline span that names a command and maybe flags (`posttrain serve`, `posttrain export
 * --check`): a reference in a sentence, checked but not run. A `--help` span is run.
 */
function isReference(command: DocCommand, words: readonly string[]): boolean {
  return (
    command.origin === "inline" &&
    !words.includes("--help") &&
    words.every((word) => /^[a-z][a-z-]*$/.test(word) || /^--?[a-z][a-z-]*$/.test(word))
  );
}

/** What the test does with one command: check it only, run it, or the problem it has. */
function classify(command: DocCommand): { run: boolean; problems: string[] } {
  const { text } = command;
  const skipped = skips.has(text);
  const problems: string[] = [];
  const words = posttrainArguments(text);
  if (words !== null) {
    problems.push(...checkArguments({ program, words }));
    const runnable =
      command.origin !== "table" && !isSynopsis(text) && !isReference(command, words) && !skipped;
    return { run: runnable && problems.length === 0, problems };
  }
  const synopsis = isSynopsis(text);
  const named = (word: string | undefined) => (word === undefined || isPlaceholder(word) ? undefined : word);
  const [first, ...rest] = splitWords(text);
  if (first === "pnpm")
    return {
      run: false,
      problems: ["pnpm is not on PATH after `npm start`: write `node scripts/pnpm.mjs …` (the pinned pnpm)"],
    };
  // `npm run X`, `npm start`, `npm test`, `node scripts/pnpm.mjs [--filter P] X`: X must exist.
  const script =
    first === "npm" && rest[0] === "run"
      ? named(rest[1])
      : first === "npm" && (rest[0] === "start" || rest[0] === "test")
        ? rest[0]
        : first === "node" && rest[0] === "scripts/pnpm.mjs" && rest[1] !== "--filter"
          ? named(rest[1])
          : undefined;
  if (script !== undefined && !(script in rootPackage.scripts) && !pnpmCommands.has(script))
    problems.push(`no root package.json script or pnpm command "${script}"`);
  if (first === "node" && rest[0] === "scripts/pnpm.mjs" && rest[1] === "--filter") {
    const [name, filtered] = [rest[2], rest[3]];
    const folder = ["packages", "recipes"]
      .map((parent) => join(root, parent, (name ?? "").replace(/^@[^/]+\//, "")))
      .find((path) => existsSync(join(path, "package.json")));
    const scripts =
      folder === undefined
        ? undefined
        : (
            JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as {
              scripts?: Record<string, string>;
            }
          ).scripts;
    if (folder === undefined) problems.push(`no workspace package ${name}`);
    else if (filtered === undefined || !(filtered in (scripts ?? {})))
      problems.push(`${name} has no script "${filtered}"`);
  }
  // `node FILE`: the file exists, from the repository root or the doc's folder.
  if (first === "node" && rest[0] !== undefined && /\.(m?js|cjs)$/.test(rest[0]) && !rest[0].includes("<")) {
    const candidates = [join(root, rest[0]), join(root, dirname(command.file), rest[0])];
    if (!candidates.some((path) => existsSync(path))) problems.push(`no file ${rest[0]}`);
  }
  // An inline `npm view` or `npm test` names a command in a sentence (checked above, not run).
  const reference = command.origin === "inline" && rest.length === 1 && /^[a-z][a-z-]*$/.test(rest[0] ?? "");
  if (!skipped && !synopsis && !reference)
    problems.push(
      "not run and not in scripts/docs-smoke-skips.ts: make it runnable or list it with the reason",
    );
  return { run: false, problems };
}

const where = (command: DocCommand) => `${command.file}:${command.line}: ${command.text}`;

/** Runs a command line as a user would, from the root, with `posttrain` on PATH. */
function runCommand(params: { text: string; bin: string }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", params.text], {
      cwd: root,
      env: {
        ...process.env,
        PATH: `${params.bin}${delimiter}${process.env["PATH"] ?? ""}`,
        npm_config_offline: "true",
        HF_HUB_OFFLINE: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    }, 90_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const bin = mkdtempSync(join(tmpdir(), "posttrain-docs-bin-"));
symlinkSync(join(root, "scripts", "posttrain.mjs"), join(bin, "posttrain"));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

describe("docs smoke test", () => {
  it("extracts shell blocks, usage blocks and inline commands, and nothing else", () => {
    const text = [
      "Run `posttrain plan recipes/micro` or `npx posttrain",
      "--help`; `posttrain` alone is the name; `z.string()` is not a command.",
      "```sh",
      "$ npm start   # the main job",
      "# a comment",
      "posttrain export recipes/tulu3-8b --engine open-instruct \\",
      "  --out bundle",
      "```",
      "```",
      "posttrain eval --task NAME",
      "               [--limit N]",
      "some other text",
      "```",
      "```ts",
      "posttrain.run();",
      "```",
      "| command | what |",
      "|---|---|",
      "| `run <recipe> [--seed N \\| --seeds 1,2,3]` / `plan <recipe>` | runs |",
      "",
      "| path | what |",
      "| `packages/cli` | `npm test` |",
    ].join("\n");
    expect(extractCommands({ file: "x.md", text }).map((command) => [command.line, command.text])).toEqual([
      [1, "posttrain plan recipes/micro"],
      [1, "npx posttrain --help"],
      [4, "npm start"],
      [6, "posttrain export recipes/tulu3-8b --engine open-instruct --out bundle"],
      [10, "posttrain eval --task NAME [--limit N]"],
      [19, "posttrain run <recipe> [--seed N | --seeds 1,2,3]"],
      [19, "posttrain plan <recipe>"],
      [22, "npm test"],
    ]);
  });

  it("a command that no longer exists, a wrong flag and a pnpm line are problems", () => {
    expect(checkArguments({ program, words: ["plna", "recipes/micro"] })).toEqual([
      expect.stringContaining('no command "plna"'),
    ]);
    expect(checkArguments({ program, words: ["plan", "recipes/micro", "--frobnicate"] })).toEqual([
      "posttrain plan: no option --frobnicate",
    ]);
    expect(checkArguments({ program, words: ["data", "pull|lock|inspekt"] })).toEqual([
      expect.stringContaining('no command "inspekt"'),
    ]);
    expect(
      checkArguments({
        program,
        words: ["eval", "(--suite", "NAME", "|", "--task", "NAME)", "[--limit", "N]"],
      }),
    ).toEqual([]);
    const pnpmLine = classify({ file: "x.md", line: 1, text: "pnpm posttrain --help", origin: "block" });
    expect(pnpmLine.problems).toEqual([expect.stringContaining("pnpm is not on PATH")]);
  });

  it("every command in the docs names real commands, flags, scripts and files, or is listed as skipped", () => {
    expect(commands.length).toBeGreaterThan(50);
    const problems = commands.flatMap((command) =>
      classify(command).problems.map((problem) => `${where(command)}\n    ${problem}`),
    );
    expect(problems).toEqual([]);
  });

  it("a recipe version a doc names is that recipe package's version", () => {
    const stale: string[] = [];
    for (const file of docFiles({ root })) {
      const text = readFileSync(join(root, file), "utf8");
      for (const match of text.matchAll(/@posttrain-recipes\/([a-z0-9-]+)@(\d+\.\d+\.\d+)/g)) {
        const packageJson = join(root, "recipes", match[1] ?? "", "package.json");
        const version = existsSync(packageJson)
          ? (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version
          : "(no such recipe)";
        if (version !== match[2]) stale.push(`${file}: ${match[0]} but the package is ${version}`);
      }
    }
    expect(stale).toEqual([]);
  });

  it("every entry of the skip list is still a command in some doc", () => {
    const texts = new Set(commands.map((command) => command.text));
    expect(
      skippedCommands.filter((entry) => !texts.has(entry.command)).map((entry) => entry.command),
    ).toEqual([]);
  });

  it("runs every runnable command as written, from the repository root", { timeout: 240_000 }, async () => {
    const runnable = [
      ...new Map(commands.filter((command) => classify(command).run).map((c) => [c.text, c])).values(),
    ];
    expect(runnable.length).toBeGreaterThan(5);
    if (process.env["POSTTRAIN_DOCS_SMOKE_LIST"] === "1") console.log(runnable.map(where).join("\n"));
    const failures: string[] = [];
    const queue = [...runnable];
    // Two at a time: this machine's two cores (the commands are mostly process start-up).
    await Promise.all(
      [0, 1].map(async () => {
        for (let command = queue.shift(); command !== undefined; command = queue.shift()) {
          const result = await runCommand({ text: command.text, bin });
          if (result.code !== 0)
            failures.push(`${where(command)}\n    exit ${result.code}: ${result.output.trim().slice(-1500)}`);
        }
      }),
    );
    expect(failures).toEqual([]);
  });
});
