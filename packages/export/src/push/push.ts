/**
 * `posttrain push`: uploads a trained checkpoint folder (or a dataset folder the recipe
 * produced) to the Hub in one commit with @posttrain/hub's `uploadFiles` (@huggingface/hub's
 * commit API), with a generated model card as `README.md` and the recipe lock as
 * `recipe.lock.json`. Interrupted-write leftovers (core's atomic temporary files) and hidden
 * files are not uploaded. Files are read into memory: fine for checkpoints up to a few GB.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { isTemporaryFile } from "@posttrain/core";
import { type HubOverrides, uploadFiles } from "@posttrain/hub";
import { type ModelCardParams, renderModelCard } from "./model-card.js";

export interface PushParams extends ModelCardParams {
  /** The Hub repo (`owner/name`); `kind` picks model or dataset. */
  repo: string;
  /** The checkpoint (or dataset) folder to upload. */
  directory: string;
  commitMessage?: string;
  branch?: string;
  hub?: HubOverrides;
}

export interface PushResult {
  commitSha: string;
  /** Repo paths uploaded, sorted. */
  files: string[];
  modelCard: string;
}

async function listFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(directory, join(entry.parentPath, entry.name)).split(sep).join("/"))
    .filter((path) => !path.split("/").some((part) => part.startsWith(".") || isTemporaryFile(part)))
    .sort();
}

/** What a push would upload (repo paths, sorted) and its model card: `posttrain push --dry-run`, offline. */
export interface PushPlan {
  files: string[];
  modelCard: string;
}

async function pushContents(
  params: Omit<PushParams, "repo">,
): Promise<{ modelCard: string; files: Array<{ path: string; content: Uint8Array | string }> }> {
  const modelCard = renderModelCard(params);
  const paths = (await listFiles(params.directory)).filter(
    (path) => path !== "README.md" && path !== "recipe.lock.json",
  );
  const files: Array<{ path: string; content: Uint8Array | string }> = [];
  for (const path of paths)
    files.push({ path, content: new Uint8Array(await readFile(join(params.directory, path))) });
  files.push({ path: "README.md", content: modelCard });
  if (params.lock !== null)
    files.push({ path: "recipe.lock.json", content: `${JSON.stringify(params.lock, null, 2)}\n` });
  return { modelCard, files };
}

/** The push's plan without uploading (no network, no token): the files and the model card. */
export async function planPush(
  params: Omit<PushParams, "repo" | "hub" | "branch" | "commitMessage">,
): Promise<PushPlan> {
  const modelCard = renderModelCard(params);
  const files = [
    ...(await listFiles(params.directory)).filter(
      (path) => path !== "README.md" && path !== "recipe.lock.json",
    ),
    "README.md",
    ...(params.lock === null ? [] : ["recipe.lock.json"]),
  ].sort();
  return { files, modelCard };
}

/** Uploads the folder, the model card and the lock in one commit; returns the commit SHA. */
export async function pushToHub(params: PushParams): Promise<PushResult> {
  const { modelCard, files } = await pushContents(params);
  const { commitSha } = await uploadFiles({
    ...params.hub,
    repo: { type: params.kind ?? "model", name: params.repo },
    files,
    commitMessage:
      params.commitMessage ??
      `posttrain push: ${params.recipe.name} ${params.recipe.version}${params.stage === undefined ? "" : ` after ${params.stage}`}`,
    branch: params.branch,
  });
  return { commitSha, files: files.map((file) => file.path).sort(), modelCard };
}
