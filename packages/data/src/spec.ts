import { parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import { DataError } from "./errors.js";

/** A full 40-hex commit SHA (lowercase). */
export const commitShaPattern = /^[0-9a-f]{40}$/;

/** The Hub's parquet-converter branch, accepted as a revision by `pull`/`lock` only. */
export const parquetConverterBranch = "refs/convert/parquet";

/** A pinned file: what `lock` records and every later read verifies. */
export const expectedFileSchema = z.strictObject({
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be a 64-hex sha256"),
});
export type ExpectedFile = z.infer<typeof expectedFileSchema>;

/** What a locked spec expects to find: row count after split/file selection and every file. */
export const expectationSchema = z.strictObject({
  rows: z.number().int().nonnegative(),
  files: z.array(expectedFileSchema),
});
export type Expectation = z.infer<typeof expectationSchema>;

/**
 * How many rows of a source go into a mixture. The unit is always explicit:
 * `{ rows: n }` takes n rows, `{ fraction: f }` takes round(f × rows). Above the source's
 * size whole copies are repeated and the remainder is drawn with the seed; below it the
 * rows are drawn with the seed (without replacement) and kept in file order.
 */
export const amountSchema = z.union([
  z.strictObject({ rows: z.number().int().nonnegative() }),
  z.strictObject({ fraction: z.number().nonnegative().finite() }),
]);
export type Amount = z.infer<typeof amountSchema>;

const selectionShape = {
  /** Dataset config (subset), i.e. the top folder of the files; none = all configs. */
  config: z.string().min(1).optional(),
  /** Split name matched against path segments and file-name prefixes (default `train`). */
  split: z.string().min(1).optional(),
  /** Globs (huggingface_hub `allow_patterns` semantics: `*` crosses `/`) over repo paths; replace config/split selection. */
  files: z.array(z.string().min(1)).min(1).optional(),
  amount: amountSchema.optional(),
  expect: expectationSchema.optional(),
};

/** A dataset on the Hub, pinned to a commit (branches and tags only via `pull`/`lock`). */
export const hubSourceSchema = z.strictObject({
  kind: z.literal("hub"),
  /** `owner/name` of a dataset repository. */
  repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, "must be owner/name"),
  /** A 40-hex commit SHA (a branch such as `main` or `refs/convert/parquet` only before locking). */
  revision: z.string().min(1),
  ...selectionShape,
});

/** A local folder with the same layout as a Hub dataset repo (e.g. `datasets/<name>`). */
export const localSourceSchema = z.strictObject({
  kind: z.literal("local"),
  directory: z.string().min(1),
  ...selectionShape,
});

/** A dataset source: Hub repo at a commit, or a local folder. */
export const datasetSpecSchema = z.discriminatedUnion("kind", [hubSourceSchema, localSourceSchema]);
export type DatasetSpec = z.infer<typeof datasetSpecSchema>;
export type HubDatasetSpec = z.infer<typeof hubSourceSchema>;
export type LocalDatasetSpec = z.infer<typeof localSourceSchema>;

/**
 * Validates a spec. With `requirePinned` (the default) a Hub spec must name a commit SHA:
 * only `pull` and `lock` accept a branch or tag, and they resolve it first.
 */
export function parseDatasetSpec(params: {
  value: unknown;
  label?: string;
  requirePinned?: boolean;
}): DatasetSpec {
  const spec = parseWithSchema({
    schema: datasetSpecSchema,
    value: params.value,
    label: params.label ?? "dataset spec",
  });
  if ((params.requirePinned ?? true) && spec.kind === "hub" && !commitShaPattern.test(spec.revision)) {
    throw new DataError({
      code: "data_spec_unpinned",
      message: `dataset ${spec.repo} names revision "${spec.revision}", not a commit SHA; run \`posttrain data lock\` to pin it`,
      details: { repo: spec.repo, revision: spec.revision },
    });
  }
  return spec;
}

/** A short human label: `owner/name@abcdef1 (config/split)` or the folder. */
export function describeSpec(spec: DatasetSpec): string {
  const selection = [spec.config, spec.split].filter((part) => part !== undefined).join("/");
  const base = spec.kind === "hub" ? `${spec.repo}@${spec.revision.slice(0, 12)}` : spec.directory;
  return selection === "" ? base : `${base} (${selection})`;
}
