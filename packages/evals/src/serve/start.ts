/**
 * Entry points of `posttrain serve` that load the engine lazily (like embedded-backend.ts), so
 * importing `@posttrain/evals` for the HTTP backend never loads onnxruntime. The scheduler,
 * request schemas and response builders are re-exported as types here; import
 * `./serve/index.js` inside this package for the classes themselves.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { BuiltinChatTemplateName } from "@posttrain/data";
import { ServeError } from "./errors.js";
import type { ServeOptions, ServeServer } from "./server.js";

/** Starts the server over an already loaded model and tokenizer. */
export async function startServeServer(options: ServeOptions): Promise<ServeServer> {
  const { startServeServer: start } = await import("./server.js");
  return start(options);
}

/**
 * Loads a Hugging Face model folder (weights with @posttrain/engine's `loadPretrainedModel`, tokenizer
 * and chat template with @posttrain/data's `loadTokenizer`) and serves it. The served name
 * defaults to {@link defaultServedModelName}.
 */
export async function startServeServerFromFolder(
  params: Omit<ServeOptions, "model" | "tokenizer" | "servedModelName"> & {
    directory: string;
    servedModelName?: string;
    /** A built-in chat template instead of the tokenizer's own. */
    chatTemplate?: BuiltinChatTemplateName;
  },
): Promise<ServeServer> {
  const { directory, servedModelName, chatTemplate, ...options } = params;
  if (!existsSync(join(directory, "config.json")))
    throw new ServeError({
      code: "serve_model_unavailable",
      message: `${directory} is not a model folder (no config.json)`,
      details: { directory },
    });
  const [{ loadPretrainedModel }, { loadTokenizer }] = await Promise.all([
    import("@posttrain/engine"),
    import("@posttrain/data"),
  ]);
  const [model, tokenizer] = await Promise.all([
    loadPretrainedModel({ directory }),
    loadTokenizer({ directory, ...(chatTemplate === undefined ? {} : { chatTemplate }) }),
  ]);
  return startServeServer({
    ...options,
    model,
    tokenizer: {
      encode: (text, encodeOptions) => tokenizer.encode(text, encodeOptions),
      // @posttrain/data's decode([]) throws; an empty id list is "".
      decode: (ids, decodeOptions) => (ids.length === 0 ? "" : tokenizer.decode(ids, decodeOptions)),
      eosTokenIds: tokenizer.eosTokenIds,
      applyChatTemplate: (chat) =>
        tokenizer.applyChatTemplate(chat as Parameters<typeof tokenizer.applyChatTemplate>[0]),
    },
    servedModelName: servedModelName ?? defaultServedModelName({ directory }),
  });
}

/** Folder names that say nothing about the model (a run's stage folders end in `model`). */
const genericFolderNames = new Set([
  "model",
  "models",
  "final",
  "checkpoint",
  "weights",
  "output",
  "out",
  "hf",
]);

/**
 * The id a model folder is served under when no `--served-model-name` is given:
 * 1. config.json's `_name_or_path` when it is a Hub-style id (`owner/name` or `name`, not a
 *    local path) — what transformers records for a model loaded from the Hub;
 * 2. else the folder's name, unless it is generic (`model`, `final`, `checkpoint`, …): then
 *    the nearest meaningful parent names it — a run's stage folder
 *    `runs/<run>/stages/2-dpo/model` is served as `<run>/2-dpo`.
 */
export function defaultServedModelName(params: { directory: string }): string {
  const directory = resolve(params.directory);
  try {
    const config = JSON.parse(readFileSync(join(directory, "config.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const name = config["_name_or_path"];
    if (
      typeof name === "string" &&
      !genericFolderNames.has(name.toLowerCase()) &&
      /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(name) &&
      !name.startsWith(".")
    )
      return name;
  } catch {
    // No readable config: the folder name decides.
  }
  const own = basename(directory);
  if (!genericFolderNames.has(own.toLowerCase()) || dirname(directory) === directory) return own;
  const parent = dirname(directory);
  const grandparent = dirname(parent);
  if (basename(grandparent) === "stages" && dirname(grandparent) !== grandparent)
    return `${basename(dirname(grandparent))}/${basename(parent)}`;
  return basename(parent) === "" ? own : basename(parent);
}
