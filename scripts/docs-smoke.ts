// The docs smoke test's rules (scripts/docs-smoke.test.ts runs them): which lines of the
// Markdown docs are commands, and what a `posttrain` command line must satisfy.
//
// Extraction rule (docs/contributing.md#docs-that-run):
// - the docs are README.md, docs/*.md, packages/*/README.md and recipes/*/README.md;
// - every line of a fenced block tagged `sh`, `bash`, `shell` or `console` is a command
//   (a trailing `\` joins the next line; `# comments`, blank lines and a leading `$ ` go);
// - in an untagged fenced block, every line starting with `posttrain ` is a usage synopsis
//   (indented lines below it continue it);
// - in prose, every inline code span starting with `posttrain `, `npx `, `npm `, `pnpm ` or
//   `node ` is a command (a span that spans lines is joined);
// - in a table whose first header cell is `command`, each code span of a row's first cell is a
//   `posttrain` synopsis (`\|` is `|`). Table rows are checked, never run.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface DocCommand {
  /** The doc it came from, relative to the repository root. */
  file: string;
  line: number;
  /** The command as written, on one line (comments and continuations removed). */
  text: string;
  /** Where it came from: a shell block, an untagged usage block, an inline span, or a command table. */
  origin: "block" | "usage" | "inline" | "table";
}

/** Every doc the test reads, relative to the repository root. */
export function docFiles(params: { root: string }): string[] {
  const { root } = params;
  const list = (folder: string) =>
    existsSync(join(root, folder)) ? readdirSync(join(root, folder)).sort() : [];
  return [
    "README.md",
    ...list("docs")
      .filter((name) => name.endsWith(".md"))
      .map((name) => `docs/${name}`),
    ...["packages", "recipes"].flatMap((folder) =>
      list(folder)
        .map((name) => `${folder}/${name}/README.md`)
        .filter((path) => existsSync(join(root, path))),
    ),
  ];
}

const shellTags = new Set(["sh", "bash", "shell", "console"]);
const inlinePrefix = /^(posttrain|npx|npm|pnpm|node) /;

/** Removes a trailing ` # comment` (a `#` after whitespace, outside quotes). */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let index = 0; index < line.length; index += 1) {
    const character = line[index];
    if (quote !== null) {
      if (character === quote) quote = null;
    } else if (character === "'" || character === '"') quote = character;
    else if (character === "#" && (index === 0 || /\s/.test(line[index - 1] ?? "")))
      return line.slice(0, index);
  }
  return line;
}

/** The commands of one Markdown text (see the extraction rule above). */
export function extractCommands(params: { file: string; text: string }): DocCommand[] {
  const lines = params.text.split("\n");
  const commands: DocCommand[] = [];
  const prose: { line: number; text: string }[] = [];
  let fence: { tag: string; marker: string } | null = null;
  let pending: { line: number; text: string } | null = null;
  let commandTable = false;
  const flush = (origin: DocCommand["origin"]) => {
    if (pending !== null) {
      const text = pending.text.replace(/\s+/g, " ").trim();
      if (text !== "") commands.push({ file: params.file, line: pending.line, text, origin });
    }
    pending = null;
  };
  for (const [index, raw] of lines.entries()) {
    const lineNumber = index + 1;
    const fenceMatch = /^(\s*)(```+|~~~+)\s*([\w-]*)/.exec(raw);
    if (fence === null && fenceMatch !== null) {
      fence = { tag: (fenceMatch[3] ?? "").toLowerCase(), marker: fenceMatch[2] ?? "```" };
      continue;
    }
    if (fence !== null) {
      if (fenceMatch !== null && raw.trim().startsWith(fence.marker) && raw.trim() === fence.marker) {
        flush(shellTags.has(fence.tag) ? "block" : "usage");
        fence = null;
        continue;
      }
      if (shellTags.has(fence.tag)) {
        let line = stripComment(raw.replace(/^\s*\$ /, ""));
        const continued = /\\\s*$/.test(line);
        if (continued) line = line.replace(/\\\s*$/, " ");
        if (pending === null) pending = { line: lineNumber, text: line };
        else pending.text += ` ${line}`;
        if (!continued) flush("block");
      } else if (fence.tag === "") {
        if (/^posttrain /.test(raw)) {
          flush("usage");
          pending = { line: lineNumber, text: raw };
        } else if (pending !== null && /^\s+\S/.test(raw)) pending.text += ` ${raw}`;
        else flush("usage");
      }
      continue;
    }
    // A table whose first header cell is "command" lists `posttrain` commands in its first column.
    const cells = raw.split(/(?<!\\)\|/);
    const tableRow = /^\s*\|/.test(raw) && cells.length > 2;
    const first = (cells[1] ?? "").trim();
    if (tableRow && /^command$/i.test(first)) commandTable = true;
    else if (!tableRow) commandTable = false;
    if (tableRow && commandTable) {
      for (const span of first.matchAll(/`([^`]+)`/g))
        commands.push({
          file: params.file,
          line: lineNumber,
          text: `posttrain ${(span[1] ?? "").replace(/\\\|/g, "|").trim()}`,
          origin: "table",
        });
      continue;
    }
    prose.push({ line: lineNumber, text: raw });
  }
  // Inline spans: over the prose joined (a span may cross a line break), with line numbers kept.
  const joined = prose.map((entry) => entry.text).join("\n");
  const offsets: number[] = [];
  let offset = 0;
  for (const entry of prose) {
    offsets.push(offset);
    offset += entry.text.length + 1;
  }
  for (const match of joined.matchAll(/(`+)([^`]+?)\1/g)) {
    const text = (match[2] ?? "").replace(/\s+/g, " ").trim();
    if (!inlinePrefix.test(text)) continue;
    let position = 0;
    while (position + 1 < offsets.length && (offsets[position + 1] ?? 0) <= (match.index ?? 0)) position += 1;
    commands.push({ file: params.file, line: prose[position]?.line ?? 0, text, origin: "inline" });
  }
  return commands.sort((first, second) => first.line - second.line);
}

/** Splits a command line into words (single and double quotes group; no expansion). */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = "";
  let quote: string | null = null;
  let started = false;
  let substitution = 0; // depth inside `$( … )`, which stays one word
  for (const [index, character] of [...text].entries()) {
    if (substitution > 0) {
      current += character;
      if (character === "(") substitution += 1;
      else if (character === ")") substitution -= 1;
    } else if (quote === null && character === "(" && text[index - 1] === "$") {
      current += character;
      substitution = 1;
    } else if (quote !== null) {
      if (character === quote) quote = null;
      else current += character;
    } else if (character === "'" || character === '"') {
      quote = character;
      started = true;
    } else if (/\s/.test(character)) {
      if (started) words.push(current);
      current = "";
      started = false;
    } else {
      current += character;
      started = true;
    }
  }
  if (started) words.push(current);
  return words;
}

/**
 * The `posttrain` arguments of a command line written with one of the launchers the README
 * documents (`posttrain`, `npx posttrain`, `npm exec posttrain --`, `npm run posttrain --`,
 * `node packages/cli/dist/bin.js`, `node scripts/posttrain.mjs`), or null for other commands.
 */
export function posttrainArguments(text: string): string[] | null {
  const words = splitWords(text);
  const launchers = [
    ["posttrain"],
    ["npx", "posttrain"],
    ["npm", "exec", "posttrain", "--"],
    ["npm", "exec", "--", "posttrain"],
    ["npm", "run", "posttrain", "--"],
    ["npm", "run", "posttrain"],
    ["node", "packages/cli/dist/bin.js"],
    ["node", "scripts/posttrain.mjs"],
  ];
  for (const launcher of launchers)
    if (launcher.every((word, index) => words[index] === word)) return words.slice(launcher.length);
  return null;
}

/** A word that stands for something the reader fills in: `<recipe>`, `NAME`, `…`, `[--x]` groups. */
export function isPlaceholder(word: string): boolean {
  const bare = word.replace(/^[[(]+|[\])]+$/g, "");
  return (
    /[<>…]|\.\.\./.test(word) ||
    /^[A-Z][A-Z_]*$/.test(bare) ||
    bare === "|" ||
    bare === "" ||
    bare.includes("=<") ||
    word.startsWith("[") ||
    word.startsWith("(")
  );
}

/** Whether a command line is a usage synopsis (it has a placeholder) rather than a runnable command. */
export function isSynopsis(text: string): boolean {
  return splitWords(text).some((word) => isPlaceholder(word) || /\w\|\w/.test(word));
}

/** The parts of a commander Command the check reads. */
export interface CommandShape {
  name(): string;
  aliases(): string[];
  commands: readonly CommandShape[];
  options: readonly { long?: string | undefined; short?: string | undefined }[];
  parent: CommandShape | null;
}

function hasOption(command: CommandShape, flag: string): boolean {
  for (let current: CommandShape | null = command; current !== null; current = current.parent)
    if (current.options.some((option) => option.long === flag || option.short === flag)) return true;
  return flag === "--help" || flag === "-h";
}

/**
 * Checks `posttrain` arguments against the CLI's command tree: every command word names a
 * command (alternatives `a|b` each), every `--flag` is an option of that command or a parent.
 * Returns the problems found (empty when the line is right). The walk stops at a placeholder
 * in command position (`posttrain <command> --help`).
 */
export function checkArguments(params: { program: CommandShape; words: readonly string[] }): string[] {
  const problems: string[] = [];
  const walk = (command: CommandShape, words: readonly string[], path: string) => {
    for (const [index, word] of words.entries()) {
      const bare = word.replace(/^[[(]+|[\])]+$/g, "");
      if (/^--?[A-Za-z]/.test(bare)) {
        const flag = bare.replace(/=.*$/, "");
        if (flag === "-v" || flag === "--version") {
          if (command.parent !== null)
            problems.push(`${path}: ${flag} is only an option of posttrain itself`);
        } else if (!hasOption(command, flag)) problems.push(`${path}: no option ${flag}`);
        continue;
      }
      if (command.commands.length === 0) continue; // a positional argument
      if (isPlaceholder(word)) return; // an unnamed command: nothing more to check
      for (const alternative of bare.split("|")) {
        const sub = command.commands.find(
          (child) => child.name() === alternative || child.aliases().includes(alternative),
        );
        if (sub === undefined) {
          const known = command.commands.map((child) => child.name()).join(", ");
          problems.push(`${path}: no command "${alternative}" (commands: ${known})`);
        } else walk(sub, words.slice(index + 1), `${path} ${alternative}`);
      }
      return;
    }
  };
  walk(params.program, params.words, "posttrain");
  return problems;
}
