import { startServeServerFromFolder } from "@posttrain/evals";
import type { Command } from "commander";
import { UsageError } from "../program.js";
import { resolveModelDirectory } from "./model.js";

interface ServeCommandOptions {
  model: string;
  host: string;
  port: string;
  servedModelName?: string;
  maxBatchSize: string;
  threads?: string;
  seed: string;
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
 */
export function register(program: Command): void {
  program
    .command("serve")
    .description("serve a model folder over an OpenAI-compatible HTTP API with continuous batching")
    .requiredOption("--model <model>", "a Hugging Face model folder or hub:owner/name@<commit sha>")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port (0 picks a free one)", "8000")
    .option("--served-model-name <name>", "the model id clients use (default: the folder name)")
    .option("--max-batch-size <n>", "rows decoded together at most", "32")
    .option("--threads <n>", "intra-op threads (default: all cores)")
    .option("--seed <n>", "seed for requests that carry none", "0")
    .action(async (options: ServeCommandOptions) => {
      const port = integerOption("--port", options.port, 0);
      if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${options.port}`);
      const maxBatchSize = integerOption("--max-batch-size", options.maxBatchSize, 1);
      const threads =
        options.threads === undefined ? undefined : integerOption("--threads", options.threads, 1);
      const seed = integerOption("--seed", options.seed, Number.MIN_SAFE_INTEGER);
      const directory = await resolveModelDirectory(options.model);
      const server = await startServeServerFromFolder({
        directory,
        host: options.host,
        port,
        maxBatchSize,
        seed,
        ...(threads === undefined ? {} : { threads }),
        ...(options.servedModelName === undefined ? {} : { servedModelName: options.servedModelName }),
      });
      const model = server.model;
      process.stdout.write(
        `${JSON.stringify({ event: "listening", url: server.url, host: server.host, port: server.port, model })}\n`,
      );
      process.stderr.write(`posttrain serve: ${model} at ${server.url} (Ctrl-C to stop)\n`);
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
