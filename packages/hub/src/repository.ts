import { parseWithSchema } from "@posttrain/core";
import { z } from "zod";

/** The two repo kinds posttrain reads and writes: datasets (data) and models (checkpoints). */
export type RepoType = "dataset" | "model";

/** A Hub repo: `name` is `owner/name` (a bare `name` is accepted for legacy models such as `gpt2`). */
export interface RepoReference {
  type: RepoType;
  name: string;
}

const namePart = "[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?";
const repoNamePattern = new RegExp(`^(?:${namePart}/)?${namePart}$`);

export const repoReferenceSchema = z.object({
  type: z.enum(["dataset", "model"]),
  name: z
    .string()
    .max(200)
    .regex(repoNamePattern, 'must be "owner/name" (letters, digits, ".", "_", "-")')
    .refine((name) => !name.includes(".."), 'must not contain ".."'),
});

/** Validates a repo reference, naming the offending field on failure. */
export function parseRepoReference(value: unknown): RepoReference {
  return parseWithSchema({ schema: repoReferenceSchema, value, label: "Hub repo reference" });
}

/** True for a full git commit id: exactly 40 lowercase hex digits. */
export function isCommitSha(value: string): boolean {
  return /^[0-9a-f]{40}$/.test(value);
}

/** A revision name: branch, tag, `refs/convert/parquet`, `refs/pr/3` or a commit SHA. */
export const revisionSchema = z
  .string()
  .min(1)
  .max(256)
  .refine((value) => !/[\s\\]|\.\.|^\/|\/$/.test(value), "not a valid git revision name");

/**
 * A path inside a repo: relative, `/`-separated, no `.`/`..` segments, so joining it onto the
 * cache folder can never escape it.
 */
export const repoPathSchema = z
  .string()
  .min(1)
  .max(4096)
  .refine(
    (value) =>
      !value.startsWith("/") &&
      !value.includes("\\") &&
      !value.includes("\0") &&
      value.split("/").every((segment) => segment !== "" && segment !== "." && segment !== ".."),
    'must be a relative "/"-separated path without empty, "." or ".." segments',
  );

/** The `datasets/owner/name` / `owner/name` designation @huggingface/hub expects. */
export function libraryRepo(repo: RepoReference): { type: RepoType; name: string } {
  return { type: repo.type, name: repo.name };
}
