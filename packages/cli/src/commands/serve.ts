import { dirname, resolve } from "node:path";
import {
  defaultAdmissionLimits,
  minimumWeightUpdateTokenLength,
  startServeServerFromFolder,
  weightUpdateTokenVariable,
} from "@posttrain/evals";
import type { Command } from "commander";
import { UsageError } from "../usage-error.js";
import { resolveModelDirectory } from "./model.js";

interface ServeCommandOptions {
  model: string;
  host: string;
  port: string;
  servedModelName?: string;
  maxBatchSize: string;
  threads?: string;
  seed: string;
  maxBodyBytes: string;
  maxPendingRows: string;
  maxPromptCharacters?: string;
  enableWeightUpdates?: boolean;
  weightUpdateToken?: string;
  weightUpdatesRoot?: string;
}

function integerOption(name: string, value: string, minimum: number): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < minimum)
    throw new UsageError(`${name} must be an integer ≥ ${minimum}, got ${value}`);
  return parsed;
}

/**
 * `posttrain serve --model DIR`: an OpenAI-compatible server (see @posttrain/evals
 * src/serve/server.ts). Once listening it prints one JSON line on stdout,
 * `{"event":"listening","url","host","port","model"}` (so `--port 0` callers learn the port);
 * SIGINT/SIGTERM stop accepting connections and let running requests finish (a second signal
 * exits at once).
 *
 * Admission limits (`--max-body-bytes`, `--max-pending-rows`, `--max-prompt-characters`) bound
 * what one request may cost. The weight routes are off unless `--enable-weight-updates`; then
 * they need the bearer token (`--weight-update-token` or, better, since command lines are
 * visible to other local users, `POSTTRAIN_WEIGHT_UPDATE_TOKEN`) and model paths inside
 * `--weight-updates-root` (default: the folder that holds the served model folder).
 */
export function register(program: Command): void {
  program
    .command("serve")
    .description("serve a model folder over an OpenAI-compatible HTTP API with continuous batching")
    .requiredOption("--model <model>", "a Hugging Face model folder or hub:owner/name@<commit sha>")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port (0 picks a free one)", "8000")
    .option(
      "--served-model-name <name>",
      "the model id clients use (default: config.json's Hub id, else the folder name; a folder named `model` takes its parent's, e.g. <run>/<stage>)",
    )
    .option("--max-batch-size <n>", "rows decoded together at most", "32")
    .option("--threads <n>", "intra-op threads (default: all cores)")
    .option("--seed <n>", "seed for requests that carry none", "0")
    .option(
      "--max-body-bytes <n>",
      "largest request body in bytes (413 beyond)",
      String(defaultAdmissionLimits.maxBodyBytes),
    )
    .option(
      "--max-pending-rows <n>",
      "rows (prompts × n) being prepared, queued or decoding at once; more → 503, more in one request → 400",
      String(defaultAdmissionLimits.maxPendingRows),
    )
    .option(
      "--max-prompt-characters <n>",
      `longest text prompt in characters, checked before tokenising (default: ${defaultAdmissionLimits.promptCharactersPerToken} × the model's context length)`,
    )
    .option(
      "--enable-weight-updates",
      "serve /update_weights_from_disk, /collective_rpc and /reset_prefix_cache (off by default; needs a token)",
    )
    .option(
      "--weight-update-token <token>",
      `bearer token the weight routes require (≥ ${minimumWeightUpdateTokenLength} characters; else ${weightUpdateTokenVariable}, which keeps it off the command line)`,
    )
    .option(
      "--weight-updates-root <dir>",
      "model paths for weight updates must resolve inside this folder (default: the folder holding --model)",
    )
    .action(async (options: ServeCommandOptions) => {
      const port = integerOption("--port", options.port, 0);
      if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${options.port}`);
      const maxBatchSize = integerOption("--max-batch-size", options.maxBatchSize, 1);
      const threads =
        options.threads === undefined ? undefined : integerOption("--threads", options.threads, 1);
      const seed = integerOption("--seed", options.seed, Number.MIN_SAFE_INTEGER);
      const maxBodyBytes = integerOption("--max-body-bytes", options.maxBodyBytes, 1);
      const maxPendingRows = integerOption("--max-pending-rows", options.maxPendingRows, 1);
      const maxPromptCharacters =
        options.maxPromptCharacters === undefined
          ? undefined
          : integerOption("--max-prompt-characters", options.maxPromptCharacters, 1);
      const enableWeightUpdates = options.enableWeightUpdates === true;
      const token = options.weightUpdateToken ?? process.env[weightUpdateTokenVariable];
      if (
        !enableWeightUpdates &&
        (options.weightUpdateToken !== undefined || options.weightUpdatesRoot !== undefined)
      )
        throw new UsageError("--weight-update-token and --weight-updates-root need --enable-weight-updates");
      if (enableWeightUpdates && (token === undefined || token === ""))
        throw new UsageError(
          `--enable-weight-updates needs a token: --weight-update-token or ${weightUpdateTokenVariable}`,
        );
      if (enableWeightUpdates && token!.length < minimumWeightUpdateTokenLength)
        throw new UsageError(
          `the weight-update token must have at least ${minimumWeightUpdateTokenLength} characters (got ${token!.length})`,
        );
      const directory = await resolveModelDirectory(options.model);
      const allowedRoot = resolve(options.weightUpdatesRoot ?? dirname(resolve(directory)));
      const server = await startServeServerFromFolder({
        directory,
        host: options.host,
        port,
        maxBatchSize,
        seed,
        maxBodyBytes,
        maxPendingRows,
        ...(maxPromptCharacters === undefined ? {} : { maxPromptCharacters }),
        weightUpdates: enableWeightUpdates
          ? { enabled: true, token: token!, allowedRoot }
          : { enabled: false },
        ...(threads === undefined ? {} : { threads }),
        ...(options.servedModelName === undefined ? {} : { servedModelName: options.servedModelName }),
      });
      const model = server.model;
      const weightUpdates = enableWeightUpdates ? { root: allowedRoot } : null;
      process.stdout.write(
        `${JSON.stringify({ event: "listening", url: server.url, host: server.host, port: server.port, model, weightUpdates })}\n`,
      );
      process.stderr.write(
        `posttrain serve: ${model} at ${server.url} (weight updates ${enableWeightUpdates ? `on, under ${allowedRoot}` : "off"}; Ctrl-C to stop)\n`,
      );
      // Every request path handles its own errors; should one still escape as a rejection, it is
      // logged and the server keeps serving the other clients instead of exiting.
      process.on("unhandledRejection", (reason) => {
        process.stderr.write(
          `posttrain serve: unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}\n`,
        );
      });
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) process.exit(signal === "SIGINT" ? 130 : 143);
          stopping = true;
          process.stderr.write(`posttrain serve: ${signal}, finishing running requests\n`);
          void server.close().then(resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
