import { uploadFiles as libraryUploadFiles } from "@huggingface/hub";
import { parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import { HubError } from "./errors.js";
import {
  isCommitSha,
  parseRepoReference,
  type RepoReference,
  repoPathSchema,
  revisionSchema,
} from "./repository.js";
import { hubRequest } from "./request.js";
import { effectiveSettings, type HubOverrides } from "./settings.js";

export interface UploadFilesParams extends HubOverrides {
  repo: RepoReference;
  /** Files to add or replace; other files of the branch are kept. */
  files: Array<{ path: string; content: Uint8Array | string }>;
  commitMessage: string;
  /** Branch to commit to (default `main`); it must exist. */
  branch?: string | undefined;
}

const uploadSchema = z.object({
  files: z
    .array(z.object({ path: repoPathSchema, content: z.union([z.string(), z.instanceof(Uint8Array)]) }))
    .min(1, "at least one file"),
  commitMessage: z.string().trim().min(1).max(4096),
  branch: revisionSchema.optional(),
});

/**
 * Commits files to a repo branch in one commit with @huggingface/hub's commit API
 * (`preupload`, then LFS upload for the files the Hub wants in LFS, then the NDJSON
 * `commit` call). Content given as a string is UTF-8. Returns the new commit's SHA. The
 * requests are retried like downloads (408/429/5xx, refused or reset connections, rate-limit
 * windows waited out), except the commit call, which is not idempotent: it is retried only
 * on a 429 or a refused connection, where the Hub cannot have made the commit. Uploads go
 * through LFS (`useXet: false`); `hub_upload_failed` when the Hub
 * refuses it, `hub_unauthorized` / `hub_gated` / `hub_not_found` as for downloads.
 */
/** `POST /api/{type}s/{name}/commit/{branch}`: creates a commit, so it must not be sent twice. */
function isCommitRequest(url: string, init: RequestInit | undefined): boolean {
  return (
    (init?.method ?? "GET").toUpperCase() === "POST" &&
    /\/api\/[a-z]+s\/.+\/commit\//.test(new URL(url).pathname)
  );
}

export async function uploadFiles(params: UploadFilesParams): Promise<{ commitSha: string }> {
  const repo = parseRepoReference(params.repo);
  const input = parseWithSchema({
    schema: uploadSchema,
    value: { files: params.files, commitMessage: params.commitMessage, branch: params.branch },
    label: "upload",
  });
  const paths = new Set<string>();
  for (const file of input.files) {
    if (paths.has(file.path)) {
      throw new HubError({
        code: "hub_invalid_argument",
        message: `upload lists ${JSON.stringify(file.path)} twice`,
        details: { repo: repo.name, repoType: repo.type, path: file.path },
      });
    }
    paths.add(file.path);
  }
  const settings = effectiveSettings(params);
  const branch = input.branch ?? "main";
  if (settings.offline) {
    throw new HubError({
      code: "hub_upload_failed",
      message: `cannot upload to ${repo.type} ${repo.name}: HF_HUB_OFFLINE=1 forbids network access`,
      details: { repo: repo.name, repoType: repo.type, revision: branch },
    });
  }
  const output = await hubRequest({
    // The whole upload is not repeated (retries happen per request); the commit request
    // itself is retried only when the Hub cannot have acted on it (429, refused connection).
    settings: { ...settings, retry: { ...settings.retry } },
    context: { repo, revision: branch },
    isIdempotent: (url, init) => !isCommitRequest(url, init),
    operation: (fetch) =>
      libraryUploadFiles({
        repo,
        files: input.files.map((file) => ({
          path: file.path,
          content: new Blob([
            typeof file.content === "string" ? Buffer.from(file.content, "utf8") : file.content,
          ]),
        })),
        commitTitle: input.commitMessage,
        branch,
        // Xet uploads need the CAS protocol, which is not implemented here: ask the Hub for
        // LFS (basic or multipart), which it still accepts for every repo.
        useXet: false,
        hubUrl: settings.endpoint,
        fetch,
        ...(settings.accessToken === undefined ? {} : { accessToken: settings.accessToken }),
      }),
  }).catch((error: unknown) => {
    if (error instanceof HubError && error.code === "hub_transfer_failed") {
      throw new HubError({
        code: "hub_upload_failed",
        message: error.message.replace("request failed", "upload failed"),
        cause: error.cause,
        ...(error.details === undefined ? {} : { details: error.details }),
      });
    }
    throw error;
  });
  const commitSha = output?.commit.oid;
  if (commitSha === undefined || !isCommitSha(commitSha)) {
    throw new HubError({
      code: "hub_upload_failed",
      message: `${repo.type} ${repo.name}: the Hub did not return a commit SHA for the upload`,
      details: { repo: repo.name, repoType: repo.type, revision: branch, received: String(commitSha) },
    });
  }
  return { commitSha };
}
