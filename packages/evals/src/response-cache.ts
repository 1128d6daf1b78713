/**
 * The response cache: completions keyed by a fingerprint of the full request (served model
 * id, prompt, sampling settings, sample index — never the endpoint URL), so an interrupted
 * eval resumes without regenerating and a resumed run is identical to an uninterrupted one.
 *
 * Storage: one append-only JSONL file (`responses.jsonl`) in the cache folder; each batch of
 * entries is written with one `write` and fsynced before `put` resolves. A line cut by a crash
 * can only be the last one: it is ignored (and the next append starts on a fresh line).
 */
import { mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Completion, fingerprint, type GenerationPrompt, type SamplingSettings } from "@posttrain/core";

/** What identifies one generated sample. */
export interface CacheKeyParts {
  model: string;
  /** `chat` or `completions`: the same prompt through a different API is a different request. */
  api: string;
  prompt: GenerationPrompt;
  sampling: SamplingSettings;
  sampleIndex: number;
}

/** The cache key of one sample. */
export function responseCacheKey(parts: CacheKeyParts): string {
  return fingerprint({ version: 1, ...parts });
}

export interface ResponseCache {
  readonly path: string;
  get(key: string): Completion | undefined;
  /** Appends entries and fsyncs; resolves once they are durable. */
  put(entries: ReadonlyArray<{ key: string; completion: Completion }>): Promise<void>;
  readonly size: number;
}

/** Opens (creating) the cache in `directory`. */
export async function openResponseCache(params: { directory: string }): Promise<ResponseCache> {
  await mkdir(params.directory, { recursive: true });
  const path = join(params.directory, "responses.jsonl");
  const entries = new Map<string, Completion>();
  let endsWithNewline = true;
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  if (text.length > 0) {
    endsWithNewline = text.endsWith("\n");
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        const entry = JSON.parse(line) as { key?: unknown; completion?: Completion };
        if (typeof entry.key === "string" && entry.completion !== undefined)
          entries.set(entry.key, entry.completion);
      } catch {
        // A torn last line from a crash: ignored, regenerated on demand.
      }
    }
  }
  let queue: Promise<void> = Promise.resolve();
  return {
    path,
    get: (key) => entries.get(key),
    get size() {
      return entries.size;
    },
    put(batch) {
      const lines = batch
        .map((entry) => JSON.stringify({ key: entry.key, completion: entry.completion }))
        .join("\n");
      const write = async () => {
        if (batch.length === 0) return;
        const handle = await open(path, "a");
        try {
          await handle.write(`${endsWithNewline ? "" : "\n"}${lines}\n`);
          endsWithNewline = true;
          await handle.datasync();
        } finally {
          await handle.close();
        }
        for (const entry of batch) entries.set(entry.key, entry.completion);
      };
      queue = queue.then(write, write);
      return queue;
    },
  };
}
