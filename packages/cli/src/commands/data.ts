import { existsSync, readdirSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { writeJsonAtomic } from "@posttrain/core";
import {
  type ChatTemplateChoice,
  type DatasetInspection,
  type DatasetSpec,
  dataFileFormat,
  describeSpec,
  detectRowFormat,
  inspectSource,
  isBuiltinChatTemplateName,
  loadTokenizer,
  lockSpec,
  materializeSource,
  parseDatasetSpec,
  type RowFormat,
  readTableBatches,
} from "@posttrain/data";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";
import { reportRetry } from "./hub.js";

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0)
    throw new UsageError(`${name} must be a positive integer, got ${value}`);
  return number;
}

function rowFormat(value: string): RowFormat {
  if (value !== "sft" && value !== "preference" && value !== "rlvr") {
    throw new UsageError(`--format must be sft, preference or rlvr, got ${JSON.stringify(value)}`);
  }
  return value;
}

function chatTemplate(value: string | undefined): ChatTemplateChoice | undefined {
  if (value === undefined) return undefined;
  if (!isBuiltinChatTemplateName(value)) {
    throw new UsageError(`--chat-template must be tulu, chatml or zephyr, got ${JSON.stringify(value)}`);
  }
  return value;
}

async function readSpecFile(path: string, requirePinned: boolean): Promise<DatasetSpec> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new UsageError(`${path} is not a readable JSON dataset spec: ${(error as Error).message}`);
  }
  return parseDatasetSpec({ value, label: `dataset spec ${path}`, requirePinned });
}

/** `<spec.json>`, a dataset folder, or one data file → a spec. */
/**
 * The configs of a local dataset folder: its top-level subfolders that hold data files (the
 * Hub layout `<config>/<split>-*.parquet`), sorted.
 */
export function localConfigs(directory: string): string[] {
  const holdsData = (folder: string): boolean =>
    readdirSync(folder, { withFileTypes: true }).some((entry) =>
      entry.isDirectory() ? holdsData(join(folder, entry.name)) : dataFileFormat(entry.name) !== null,
    );
  return readdirSync(directory, { withFileTypes: true })
    .filter(
      (entry) => entry.isDirectory() && !entry.name.startsWith(".") && holdsData(join(directory, entry.name)),
    )
    .map((entry) => entry.name)
    .sort();
}

async function specFromArgument(
  argument: string,
  split: string | undefined,
  config?: string,
): Promise<DatasetSpec> {
  if (!existsSync(argument)) throw new UsageError(`${argument} does not exist`);
  if (statSync(argument).isDirectory()) {
    // A folder of several configs (sft/, preference/, rlvr/) is several datasets: inspect one.
    const configs = localConfigs(argument);
    if (config !== undefined && !configs.includes(config))
      throw new UsageError(
        `${argument} has no config "${config}"${configs.length === 0 ? " (its data files are not in config folders)" : `; its configs: ${configs.join(", ")}`}`,
      );
    if (config === undefined && configs.length > 1)
      throw new UsageError(
        `${argument} holds ${configs.length} configs (${configs.join(", ")}): choose one with --config <name>, e.g. posttrain data inspect ${argument} --config ${configs[0]} …`,
      );
    const chosen = config ?? (configs.length === 1 ? configs[0] : undefined);
    return {
      kind: "local",
      directory: resolve(argument),
      ...(chosen === undefined ? {} : { config: chosen }),
      ...(split === undefined ? {} : { split }),
    };
  }
  if (config !== undefined) throw new UsageError("--config selects a config folder: give a dataset folder");
  if (argument.endsWith(".json")) {
    // A spec is one JSON object with a `kind`; anything else named .json is read as JSON lines.
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(argument, "utf8"));
    } catch {
      parsed = undefined;
    }
    if (typeof parsed === "object" && parsed !== null && "kind" in parsed)
      return readSpecFile(argument, true);
  }
  if (dataFileFormat(argument) === null) {
    throw new UsageError(`${argument} is neither a dataset spec, a folder, nor a parquet/jsonl/arrow file`);
  }
  return { kind: "local", directory: resolve(dirname(argument)), files: [basename(argument)] };
}

/**
 * `data pull` fetches Hub datasets; given a folder or file that exists here, say so instead of
 * sending it to the Hub as a repo name (where it would fail as "not found" after retries).
 */
function refuseLocalPath(argument: string): void {
  const looksLikePath = /^(\.{1,2}(\/|$)|\/|~)/.test(argument);
  if (existsSync(argument)) {
    const what = statSync(argument).isDirectory() ? "a local folder" : "a local file";
    throw new UsageError(
      `${argument} is ${what}, not a Hub dataset: \`data pull\` downloads from the Hub. Use \`posttrain data inspect ${argument}\`, or lock it with a spec {"kind":"local","directory":…} and \`posttrain data lock\``,
    );
  }
  if (looksLikePath) {
    throw new UsageError(`${argument} does not exist here, and a Hub dataset is named "owner/name"`);
  }
}

function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function describeLocked(spec: DatasetSpec): string {
  const lines = [`${describeSpec(spec)}: ${spec.expect?.rows ?? "?"} rows`];
  for (const file of spec.expect?.files ?? [])
    lines.push(`  ${formatBytes(file.size).padStart(10)}  ${file.sha256}  ${file.path}`);
  lines.push("", JSON.stringify(spec, null, 2));
  return lines.join("\n");
}

function describeInspection(report: DatasetInspection): string {
  const lines = [`rows              ${report.rows} (${report.sampledRows} tokenized for the statistics)`];
  lines.push(`malformed         ${report.malformed.malformed}`);
  for (const [reason, entry] of Object.entries(report.malformed.reasons)) {
    lines.push(
      `  ${reason}: ${entry?.count} (e.g. row ${entry?.examples[0]?.row}: ${entry?.examples[0]?.detail})`,
    );
  }
  for (const [reason, count] of Object.entries(report.filtered))
    lines.push(`filtered          ${reason}: ${count}`);
  if (report.lengths !== null) {
    const { minimum, median, mean, percentile95, maximum } = report.lengths;
    lines.push(
      `tokens per row    min ${minimum}, median ${median}, mean ${mean.toFixed(1)}, p95 ${percentile95}, max ${maximum}`,
    );
    const largest = Math.max(...report.histogram.map((bin) => bin.count));
    for (const bin of report.histogram) {
      const bar = "#".repeat(Math.round((40 * bin.count) / Math.max(largest, 1)));
      lines.push(`  ${`${bin.from}-${bin.to}`.padStart(13)} ${String(bin.count).padStart(7)} ${bar}`);
    }
  }
  if (report.example !== null) {
    lines.push("", `example (row ${report.example.row}; trained tokens between ⟦ and ⟧, the rest masked):`);
    lines.push(report.example.spans.map((span) => (span.trained ? `⟦${span.text}⟧` : span.text)).join(""));
  }
  return lines.join("\n");
}

/**
 * `posttrain data pull|lock|inspect`: pin, fetch and look at datasets. Hub settings come from
 * HF_ENDPOINT, HF_TOKEN, HF_HOME / HF_HUB_CACHE and HF_HUB_OFFLINE; files land in the shared
 * Hugging Face cache, verified.
 */
export function register(program: Command): void {
  const data = program.command("data").description("pull, lock and inspect datasets (Hub or local folders)");

  data
    .command("pull")
    .description(
      "resolve a dataset revision to its commit, download and verify the split's files, count rows",
    )
    .argument("<repo>", "owner/name of a Hub dataset")
    .option("--revision <revision>", "branch, tag, commit SHA or refs/convert/parquet", "main")
    .option("--config <config>", "dataset config (the files' top folder)")
    .option("--split <split>", "split to select (default train)")
    .option("--files <glob...>", "select files by glob instead of config/split")
    .option("--output <spec.json>", "write the locked spec (revision pinned, expect filled) to this file")
    .option("--json", "print the locked spec as JSON")
    .action(
      async (
        repo: string,
        options: {
          revision: string;
          config?: string;
          split?: string;
          files?: string[];
          output?: string;
          json?: boolean;
        },
      ) => {
        refuseLocalPath(repo);
        const spec = parseDatasetSpec({
          value: {
            kind: "hub",
            repo,
            revision: options.revision,
            ...(options.config === undefined ? {} : { config: options.config }),
            ...(options.split === undefined ? {} : { split: options.split }),
            ...(options.files === undefined ? {} : { files: options.files }),
          },
          label: "dataset",
          requirePinned: false,
        });
        const locked = await lockSpec({ spec, hub: { onRetry: reportRetry } });
        if (options.output !== undefined) await writeJsonAtomic({ path: options.output, value: locked.spec });
        output({
          json: options.json,
          value: { spec: locked.spec, files: locked.source.files },
          human: () => describeLocked(locked.spec),
        });
      },
    );

  data
    .command("lock")
    .description("pin a dataset spec: resolve branch→SHA, hash the files, count rows, fill in `expect`")
    .argument("<spec>", "a JSON file holding one dataset spec")
    .option("--write", "write the locked spec back to the file")
    .option("--json", "print the locked spec as JSON")
    .action(async (path: string, options: { write?: boolean; json?: boolean }) => {
      const spec = await readSpecFile(path, false);
      const locked = await lockSpec({
        spec,
        baseDirectory: dirname(resolve(path)),
        hub: { onRetry: reportRetry },
      });
      if (options.write) await writeJsonAtomic({ path, value: locked.spec });
      output({ json: options.json, value: locked.spec, human: () => describeLocked(locked.spec) });
    });

  data
    .command("inspect")
    .description("rows, token-length histogram and one rendered example with trained and masked spans")
    .argument("<spec|path>", "a dataset spec (JSON), a dataset folder or one data file")
    .usage("<spec|path> --tokenizer <directory> [options]")
    .requiredOption(
      "--tokenizer <directory>",
      "(required) tokenizer folder (tokenizer.json + tokenizer_config.json)",
    )
    .option("--chat-template <name>", "tulu, chatml or zephyr instead of the tokenizer's own template")
    .option(
      "--format <format>",
      "row format: sft, preference or rlvr (default: from the columns — chosen + rejected: preference, ground_truth: rlvr, else sft)",
    )
    .option(
      "--config <name>",
      "config folder to inspect in a dataset folder (required when it holds several, e.g. sft, preference, rlvr)",
    )
    .option("--split <split>", "split to select in a folder (default train)")
    .option("--max-length <tokens>", "truncate as training would")
    .option("--sample-rows <rows>", "rows tokenized for the statistics", "2000")
    .option("--json", "print the report as JSON")
    .action(
      async (
        argument: string,
        options: {
          tokenizer: string;
          chatTemplate?: string;
          format?: string;
          config?: string;
          split?: string;
          maxLength?: string;
          sampleRows: string;
          json?: boolean;
        },
      ) => {
        const chosenFormat = options.format === undefined ? undefined : rowFormat(options.format);
        const template = chatTemplate(options.chatTemplate);
        const maxLength = positiveInteger("--max-length", options.maxLength);
        const sampleRows = positiveInteger("--sample-rows", options.sampleRows);
        if (!existsSync(options.tokenizer))
          throw new UsageError(`--tokenizer ${options.tokenizer} does not exist`);
        const spec = await specFromArgument(argument, options.split, options.config);
        const source = await materializeSource({ spec, baseDirectory: dirname(resolve(argument)) });
        const tokenizer = await loadTokenizer({
          directory: options.tokenizer,
          ...(template === undefined ? {} : { chatTemplate: template }),
        });
        const detected = chosenFormat === undefined ? await formatFromColumns(source.files) : null;
        const format = chosenFormat ?? detected?.format ?? "sft";
        const formatLine =
          chosenFormat !== undefined
            ? `${format} (--format)`
            : detected === null
              ? "sft (the default: no row to read columns from)"
              : `${format} (from the columns ${detected.columns.join(", ")}${detected.format === null ? ": none fits, the default" : ""}; --format to choose)`;
        const report = await inspectSource({
          source,
          format,
          tokenizer,
          ...(maxLength === undefined ? {} : { maxLength }),
          ...(sampleRows === undefined ? {} : { sampleRows }),
        });
        output({
          json: options.json,
          value: { format, ...report },
          human: () => `format            ${formatLine}\n${describeInspection(report)}`,
        });
      },
    );
}

/** The columns of a source's first data file and the row format they fit (null: none fits). */
async function formatFromColumns(
  files: ReadonlyArray<{ localPath: string }>,
): Promise<{ format: RowFormat | null; columns: string[] } | null> {
  const first = files[0];
  if (first === undefined) return null;
  for await (const table of readTableBatches({ path: first.localPath, batchRows: 1 })) {
    const columns = table.schema.fields.map((field) => field.name);
    return { format: detectRowFormat({ columns }), columns };
  }
  return null;
}
