/**
 * Loading a task's rows: from its pinned DatasetSpec (through @posttrain/data, which verifies
 * files against the spec's `expect`), or from a local override (`--data PATH`): a file, or a
 * folder holding the task's `localFileName` (e.g. ../shared/data/benchmarks), or a folder laid
 * out like a Hub dataset repo. Every file used is recorded with its sha256.
 */
import { createReadStream, existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createGunzip } from "node:zlib";
import { hashFile, PosttrainError } from "@posttrain/core";
import {
  type DatasetSpec,
  dataFileFormat,
  describeSpec,
  materializeSource,
  parseDatasetSpec,
  readTableBatches,
  rowsFromTable,
} from "@posttrain/data";
import { EvaluationError } from "./errors.js";
import { type EvalItem, itemFromRow } from "./items.js";
import type { TaskSpec } from "./task-spec.js";

/** A data file a result depends on. */
export interface DatasetFileRecord {
  path: string;
  sha256: string;
  size: number;
}

/** Where a task's items came from. */
export interface DatasetSource {
  /** `owner/name@sha (config/split)`, a folder, or a file. */
  description: string;
  /** The spec used (the task's own, or the local override). */
  spec: DatasetSpec | { kind: "file"; path: string };
  files: DatasetFileRecord[];
}

async function* jsonLines(path: string): AsyncGenerator<unknown> {
  const input = createReadStream(path);
  const stream = path.endsWith(".gz") ? input.pipe(createGunzip()) : input;
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber += 1;
    if (line.trim() === "") continue;
    try {
      yield JSON.parse(line);
    } catch (error) {
      throw new EvaluationError({
        code: "eval_dataset_row_invalid",
        message: `${path}:${lineNumber} is not valid JSON`,
        cause: error,
        details: { path, line: lineNumber },
      });
    }
  }
}

/** Rows of one data file, in order (JSONL read directly; Parquet/Arrow through @posttrain/data). */
export async function* readRows(params: { path: string }): AsyncGenerator<unknown> {
  const format = dataFileFormat(params.path);
  if (format === "jsonl" || format === "jsonl.gz") {
    yield* jsonLines(params.path);
    return;
  }
  for await (const table of readTableBatches({ path: params.path })) yield* rowsFromTable(table);
}

async function filesOf(params: {
  task: TaskSpec;
  dataPath?: string;
  baseDirectory: string;
}): Promise<{ paths: Array<{ path: string; localPath: string }>; source: Omit<DatasetSource, "files"> }> {
  const { task } = params;
  if (params.dataPath !== undefined) {
    const path = resolve(params.baseDirectory, params.dataPath);
    const info = await stat(path).catch((error: unknown) => {
      throw new EvaluationError({
        code: "eval_dataset_unavailable",
        message: `--data ${params.dataPath}: no such file or folder`,
        cause: error,
      });
    });
    if (info.isFile())
      return {
        paths: [{ path, localPath: path }],
        source: { description: path, spec: { kind: "file", path } },
      };
    if (task.localFileName !== undefined) {
      const candidate = join(path, task.localFileName);
      const found = await stat(candidate).then(
        (candidateInfo) => candidateInfo.isFile(),
        () => false,
      );
      if (found) {
        return {
          paths: [{ path: candidate, localPath: candidate }],
          source: { description: candidate, spec: { kind: "file", path: candidate } },
        };
      }
    }
    const spec: DatasetSpec = {
      kind: "local",
      directory: path,
      ...(task.dataset.config === undefined ? {} : { config: task.dataset.config }),
      ...(task.dataset.split === undefined ? {} : { split: task.dataset.split }),
    };
    const source = await materializeSource({ spec, baseDirectory: params.baseDirectory });
    return {
      paths: source.files.map((file) => ({ path: file.path, localPath: file.localPath })),
      source: { description: describeSpec(spec), spec },
    };
  }
  let spec: DatasetSpec;
  try {
    spec = parseDatasetSpec({ value: task.dataset, label: `${task.name}.dataset` });
  } catch (error) {
    if (PosttrainError.hasCode(error, "data_spec_unpinned")) {
      throw new EvaluationError({
        code: "eval_dataset_unavailable",
        message: `task ${task.name}: ${(error as Error).message}; or pass --data PATH with a local copy`,
        cause: error,
      });
    }
    throw error;
  }
  const source = await materializeSource({ spec, baseDirectory: params.baseDirectory });
  return {
    paths: source.files.map((file) => ({ path: file.path, localPath: file.localPath })),
    source: { description: describeSpec(spec), spec },
  };
}

/**
 * The repository root when @posttrain/evals runs from a checkout (`packages/evals/dist/` →
 * three folders up): the shipped tasks' local data (`datasets/micro`) is relative to it.
 */
const checkoutRoot = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * Where a task's relative local dataset folder is looked up when the caller names no base
 * folder: the working directory when the folder is there, else the checkout root (so
 * `posttrain eval --suite micro` works from any folder, not only the repository root). When
 * neither has it, `eval_dataset_unavailable` names both places and the `--data` way out.
 */
export function defaultBaseDirectory(params: { task: TaskSpec; workingDirectory?: string }): string {
  const workingDirectory = params.workingDirectory ?? process.cwd();
  const { dataset } = params.task;
  if (dataset.kind !== "local" || isAbsolute(dataset.directory)) return workingDirectory;
  const candidates = [workingDirectory, checkoutRoot];
  const found = candidates.find((candidate) => existsSync(resolve(candidate, dataset.directory)));
  if (found !== undefined) return found;
  throw new EvaluationError({
    code: "eval_dataset_unavailable",
    message: `task ${params.task.name}: its data folder ${dataset.directory} is neither in ${workingDirectory} nor in ${checkoutRoot}; pass --data <folder> with a copy`,
    details: { task: params.task.name, directory: dataset.directory, searched: candidates },
  });
}

/** Whether `row[filter.column]` (a string, or a list of one string) is one of `filter.values`. */
function rowMatches(params: {
  row: unknown;
  filter: { column: string; values: readonly string[] };
}): boolean {
  if (typeof params.row !== "object" || params.row === null) return false;
  const value = (params.row as Record<string, unknown>)[params.filter.column];
  const name = Array.isArray(value) && value.length === 1 ? value[0] : value;
  return typeof name === "string" && params.filter.values.includes(name);
}

/**
 * The task's items, in dataset order, at most `limit` of them. Rows are validated for the
 * task's row format (an invalid row is an error naming it, not a silent skip). With a
 * `rowFilter`, only matching rows count (before `limit`).
 */
export async function loadTaskItems(params: {
  task: TaskSpec;
  dataPath?: string;
  limit?: number;
  baseDirectory?: string;
}): Promise<{ items: EvalItem[]; source: DatasetSource }> {
  const { task } = params;
  const baseDirectory =
    params.baseDirectory ?? (params.dataPath === undefined ? defaultBaseDirectory({ task }) : process.cwd());
  const { paths, source } = await filesOf({
    task,
    baseDirectory,
    ...(params.dataPath === undefined ? {} : { dataPath: params.dataPath }),
  });
  const limit = params.limit ?? Number.POSITIVE_INFINITY;
  const items: EvalItem[] = [];
  const files: DatasetFileRecord[] = [];
  for (const file of paths) {
    if (items.length >= limit) break;
    files.push({ path: file.path, ...(await hashFile(file.localPath)) });
    for await (const row of readRows({ path: file.localPath })) {
      if (items.length >= limit) break;
      if (task.rowFilter !== undefined && !rowMatches({ row, filter: task.rowFilter })) continue;
      try {
        items.push(itemFromRow({ row, index: items.length, format: task.rowFormat }));
      } catch (error) {
        if (!PosttrainError.hasCode(error, "eval_dataset_row_invalid")) throw error;
        throw new EvaluationError({
          code: "eval_dataset_row_invalid",
          message: `task ${task.name}, ${file.path}: ${(error as Error).message}`,
          cause: error,
          details: { task: task.name, file: file.path, ...(error as PosttrainError).details },
        });
      }
    }
  }
  if (items.length === 0) {
    throw new EvaluationError({
      code: "eval_dataset_unavailable",
      message: `task ${task.name}: no rows in ${source.description}`,
    });
  }
  return { items, source: { ...source, files } };
}
