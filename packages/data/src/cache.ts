import { existsSync } from "node:fs";
import { readFile, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { fingerprint, hashFile, safeParseWithSchema } from "@posttrain/core";
import { type Table, tableFromIPC } from "apache-arrow";
import { z } from "zod";
import { DataError } from "./errors.js";

/**
 * Bumped whenever the tokenized layout or a transform's behaviour changes, so every older
 * cache entry misses instead of being read with the wrong meaning.
 */
export const tokenizedCacheVersion = 1;

/** `POSTTRAIN_CACHE`, else `~/.cache/posttrain`. */
export function cacheRootFromEnvironment(environment: NodeJS.ProcessEnv = process.env): string {
  const configured = environment["POSTTRAIN_CACHE"];
  return configured !== undefined && configured.trim() !== ""
    ? configured
    : join(homedir(), ".cache", "posttrain");
}

/**
 * The cache key: sha256 of the canonical JSON of every input that can change the tokenized
 * output — dataset SHAs and file hashes, amounts, seed, the transform and its arguments,
 * tokenizer file hashes, the chat template's hash — plus {@link tokenizedCacheVersion}.
 */
export function tokenizedCacheKey(inputs: Record<string, unknown>): string {
  return fingerprint({ cacheVersion: tokenizedCacheVersion, inputs });
}

/** The folder of a cache entry: `<root>/tokenized/<key>`. */
export function tokenizedCacheDirectory(params: { cacheRoot: string; key: string }): string {
  return join(params.cacheRoot, "tokenized", params.key);
}

const shardSchema = z.strictObject({
  file: z.string().regex(/^shard-\d{5}\.arrow$/),
  rows: z.number().int().nonnegative(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** `manifest.json` of a cache entry; written last, so its presence marks a complete entry. */
export const cacheManifestSchema = z
  .object({
    cacheVersion: z.literal(tokenizedCacheVersion),
    key: z.string(),
    layout: z.enum(["sft-packed", "sft", "preference", "rlvr"]),
    inputs: z.record(z.string(), z.unknown()),
    shards: z.array(shardSchema),
    totals: z.object({
      rows: z.number().int(),
      documents: z.number().int(),
      tokens: z.number().int(),
      trainedTokens: z.number().int(),
    }),
    sources: z.array(
      z.object({ label: z.string(), sourceRows: z.number().int(), targetRows: z.number().int() }),
    ),
    malformed: z.unknown(),
    filtered: z.record(z.string(), z.number()),
    createdAt: z.string(),
  })
  .loose();
export type CacheManifest = z.infer<typeof cacheManifestSchema>;

export type CacheLookup =
  | { status: "hit"; manifest: CacheManifest }
  | { status: "miss" }
  | { status: "corrupt"; problems: string[] };

/**
 * Looks up a cache entry and verifies it: every shard must exist with its recorded size
 * and sha256. A truncated, missing or edited shard makes the entry `corrupt`; it is then
 * deleted so the caller rebuilds it.
 */
export async function lookupTokenizedCache(params: { directory: string }): Promise<CacheLookup> {
  const manifestPath = join(params.directory, "manifest.json");
  if (!existsSync(manifestPath)) return { status: "miss" };
  const problems: string[] = [];
  let manifest: CacheManifest | undefined;
  try {
    const parsed = safeParseWithSchema({
      schema: cacheManifestSchema,
      value: JSON.parse(await readFile(manifestPath, "utf8")),
      label: manifestPath,
    });
    if (parsed.success) manifest = parsed.value;
    else problems.push(parsed.error.message);
  } catch (error) {
    problems.push(`manifest.json is unreadable: ${(error as Error).message}`);
  }
  if (manifest !== undefined) {
    for (const shard of manifest.shards) {
      const path = join(params.directory, shard.file);
      const size = existsSync(path) ? (await stat(path)).size : -1;
      if (size < 0) problems.push(`${shard.file} is missing`);
      else if (size !== shard.size)
        problems.push(`${shard.file} has ${size} bytes, expected ${shard.size} (truncated?)`);
      else if ((await hashFile(path)).sha256 !== shard.sha256)
        problems.push(`${shard.file} does not match its sha256`);
    }
  }
  if (problems.length === 0 && manifest !== undefined) return { status: "hit", manifest };
  await rm(params.directory, { recursive: true, force: true });
  return { status: "corrupt", problems };
}

/** Moves a finished build folder into place (a concurrent identical build may have won). */
export async function publishTokenizedCache(params: {
  buildDirectory: string;
  directory: string;
}): Promise<void> {
  if (existsSync(join(params.directory, "manifest.json"))) {
    await rm(params.buildDirectory, { recursive: true, force: true });
    return;
  }
  await rm(params.directory, { recursive: true, force: true });
  await rename(params.buildDirectory, params.directory);
}

/** Reads the shards of a verified cache entry, one Arrow table per shard, in order. */
export async function* readTokenizedShards(params: {
  directory: string;
  manifest: CacheManifest;
}): AsyncGenerator<Table> {
  for (const shard of params.manifest.shards) {
    const bytes = await readFile(join(params.directory, shard.file));
    const table = tableFromIPC(bytes);
    if (table.numRows !== shard.rows) {
      throw new DataError({
        code: "data_cache_corrupt",
        message: `${shard.file} has ${table.numRows} rows, expected ${shard.rows}`,
      });
    }
    yield table;
  }
}
