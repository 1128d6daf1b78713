import { createProgress, type ProgressReporter } from "@posttrain/core";
import {
  hubSettingsFromEnvironment,
  listRepoFiles,
  type RepoReference,
  type RetryEvent,
  resolveRevision,
  snapshotRepo,
} from "@posttrain/hub";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

function repoReference(type: string, name: string): RepoReference {
  if (type !== "dataset" && type !== "model") {
    throw new UsageError(`repo type must be "dataset" or "model", got ${JSON.stringify(type)}`);
  }
  if (!/^[^/\s]+(\/[^/\s]+)?$/.test(name)) {
    throw new UsageError(`repo must be "owner/name", got ${JSON.stringify(name)}`);
  }
  return { type, name };
}

/**
 * One stderr line per wait between attempts, so a user sees why a transfer pauses (a
 * rate-limit window is a minute or more) instead of a silent hang.
 */
export function reportRetry(event: RetryEvent): void {
  const seconds = (event.delayMilliseconds / 1000).toFixed(event.delayMilliseconds < 10_000 ? 1 : 0);
  const why =
    event.reason === "rate-limited"
      ? `rate limited by the Hub (HTTP ${event.status ?? 429})`
      : event.reason === "server"
        ? `the Hub answered HTTP ${event.status}`
        : "the connection failed";
  process.stderr.write(
    `posttrain: ${why}; waiting ${seconds} s before attempt ${event.attempt}: ${event.request}\n`,
  );
}

function formatBytes(size: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${size} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * `posttrain hub resolve|files|download`: the Hub transfers of @posttrain/hub from the
 * command line. Settings come from HF_ENDPOINT, HF_TOKEN, HF_HOME / HF_HUB_CACHE and
 * HF_HUB_OFFLINE, as for Python tools.
 */
export function register(program: Command): void {
  const hub = program
    .command("hub")
    .description("resolve, list and download Hugging Face Hub repos (datasets and models) into the HF cache");

  hub
    .command("resolve")
    .description("print the commit SHA a revision (default main) points at")
    .argument("<type>", "dataset or model")
    .argument("<repo>", "owner/name")
    .option("--revision <revision>", "branch, tag, SHA or refs/convert/parquet", "main")
    .option("--json", "print the result as JSON")
    .action(async (type: string, name: string, options: { revision: string; json?: boolean }) => {
      const repo = repoReference(type, name);
      const { sha } = await resolveRevision({ repo, revision: options.revision, onRetry: reportRetry });
      output({
        json: options.json,
        value: { type: repo.type, repo: repo.name, revision: options.revision, sha },
        human: () => sha,
      });
    });

  hub
    .command("files")
    .description("list the files of a repo at a commit, with size and sha256 (LFS files)")
    .argument("<type>", "dataset or model")
    .argument("<repo>", "owner/name")
    .requiredOption("--revision <sha>", "commit SHA (see `posttrain hub resolve`)")
    .option(
      "--include <glob...>",
      "only files matching these globs (huggingface_hub allow_patterns semantics)",
    )
    .option("--json", "print the files as JSON")
    .action(
      async (
        type: string,
        name: string,
        options: { revision: string; include?: string[]; json?: boolean },
      ) => {
        const repo = repoReference(type, name);
        const files = await listRepoFiles({
          repo,
          revision: options.revision,
          include: options.include,
          onRetry: reportRetry,
        });
        output({
          json: options.json,
          value: { type: repo.type, repo: repo.name, revision: options.revision, files },
          human: () =>
            files
              .map(
                (file) =>
                  `${formatBytes(file.size).padStart(10)}  ${file.sha256 ?? `git:${file.gitOid}`}  ${file.path}`,
              )
              .join("\n"),
        });
      },
    );

  hub
    .command("download")
    .description("download (and verify) a repo snapshot into the HF cache; prints the snapshot folder")
    .argument("<type>", "dataset or model")
    .argument("<repo>", "owner/name")
    .requiredOption("--revision <sha>", "commit SHA (a branch is resolved first)")
    .option(
      "--include <glob...>",
      "only files matching these globs (huggingface_hub allow_patterns semantics)",
    )
    .option("--json", "print the result as JSON")
    .action(
      async (
        type: string,
        name: string,
        options: { revision: string; include?: string[]; json?: boolean },
      ) => {
        const repo = repoReference(type, name);
        // Created on the first progress event, once the total size is known.
        let progress: ProgressReporter | undefined;
        try {
          const snapshot = await snapshotRepo({
            repo,
            revision: options.revision,
            include: options.include,
            onRetry: reportRetry,
            onProgress: (event) => {
              progress ??= createProgress({
                label: `download ${repo.name}`,
                total: event.bytesTotal,
                unit: "B",
              });
              progress.update({
                completed: event.bytesCompleted,
                metrics: { files: `${event.filesCompleted}/${event.filesTotal}` },
              });
            },
          });
          progress?.stop();
          if (snapshot.servedFromCache !== undefined) {
            process.stderr.write(
              `posttrain: the Hub is unreachable, so the complete cached snapshot is used: ${snapshot.servedFromCache}\n`,
            );
          }
          const totalBytes = snapshot.files.reduce((sum, file) => sum + file.size, 0);
          output({
            json: options.json,
            value: {
              type: repo.type,
              repo: repo.name,
              sha: snapshot.sha,
              ...(snapshot.servedFromCache === undefined
                ? {}
                : { servedFromCache: snapshot.servedFromCache }),
              directory: snapshot.directory,
              cacheDirectory: hubSettingsFromEnvironment().cacheDirectory,
              files: snapshot.files,
            },
            human: () =>
              `${snapshot.files.length} files (${formatBytes(totalBytes)}) verified at ${snapshot.sha}\n${snapshot.directory}`,
          });
        } catch (error) {
          progress?.stop();
          throw error;
        }
      },
    );
}
