import { datasetInfo, modelInfo } from "@huggingface/hub";
import { parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import { readRef, repoCache, writeRef } from "./cache-layout.js";
import { HubError } from "./errors.js";
import { isCommitSha, parseRepoReference, type RepoReference, revisionSchema } from "./repository.js";
import { hubRequest, offlineMissing } from "./request.js";
import { effectiveSettings, type HubOverrides } from "./settings.js";

export interface ResolveRevisionParams extends HubOverrides {
  repo: RepoReference;
  /** Branch, tag, commit SHA or special ref such as `refs/convert/parquet`; default `main`. */
  revision?: string | undefined;
}

/**
 * Resolves a revision to the commit SHA it points at now, via `datasetInfo` / `modelInfo`
 * (`GET /api/{datasets|models}/{name}/revision/{revision}`, the revision URL-encoded so
 * `refs/convert/parquet` works). Online, a branch's SHA is recorded in the cache's
 * `refs/<revision>` file, as Python does, so offline mode can resolve it later. Offline, a
 * SHA is used as is and a branch is read from that file.
 */
export async function resolveRevision(params: ResolveRevisionParams): Promise<{ sha: string }> {
  const repo = parseRepoReference(params.repo);
  const revision = parseWithSchema({
    schema: revisionSchema,
    value: params.revision ?? "main",
    label: "revision",
  });
  const settings = effectiveSettings(params);
  const cache = repoCache({ cacheDirectory: settings.cacheDirectory, repo });
  const context = { repo, revision };
  if (settings.offline) {
    if (isCommitSha(revision)) return { sha: revision };
    const sha = await readRef({ cache, revision });
    if (sha === undefined || !isCommitSha(sha)) {
      throw offlineMissing({ context, what: `the commit of revision ${JSON.stringify(revision)}` });
    }
    return { sha };
  }
  const sha = await hubRequest({
    settings,
    context,
    operation: async (fetch) => {
      const common = {
        name: repo.name,
        revision,
        hubUrl: settings.endpoint,
        fetch,
        ...(settings.accessToken === undefined ? {} : { accessToken: settings.accessToken }),
        additionalFields: ["sha" as const],
      };
      const info = repo.type === "dataset" ? await datasetInfo(common) : await modelInfo(common);
      return (info as { sha?: unknown }).sha;
    },
  });
  const parsed = z.string().safeParse(sha);
  if (!parsed.success || !isCommitSha(parsed.data)) {
    throw new HubError({
      code: "hub_transfer_failed",
      message: `${repo.type} ${repo.name}: the Hub did not return a commit SHA for revision ${JSON.stringify(revision)}`,
      details: { repo: repo.name, repoType: repo.type, revision, received: String(sha) },
    });
  }
  if (isCommitSha(revision) && parsed.data !== revision) {
    throw new HubError({
      code: "hub_revision_not_found",
      message: `${repo.type} ${repo.name}: asked for commit ${revision} but the Hub resolved it to ${parsed.data}`,
      details: { repo: repo.name, repoType: repo.type, revision, resolved: parsed.data },
    });
  }
  if (!isCommitSha(revision)) await writeRef({ cache, revision, sha: parsed.data });
  return { sha: parsed.data };
}
