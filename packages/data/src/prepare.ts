import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createProgress, type ProgressParams, writeFileAtomic, writeJsonAtomic } from "@posttrain/core";
import type { HubOverrides } from "@posttrain/hub";
import { type Table, tableToIPC } from "apache-arrow";
import { rowsFromTable } from "./arrow-rows.js";
import {
  type CacheManifest,
  cacheRootFromEnvironment,
  lookupTokenizedCache,
  publishTokenizedCache,
  tokenizedCacheDirectory,
  tokenizedCacheKey,
} from "./cache.js";
import type { ChatTemplateChoice } from "./chat-template.js";
import { DataError } from "./errors.js";
import { planSource, type SourcePlan } from "./mixing.js";
import { type PackingDocument, packBestFitDecreasing } from "./packing.js";
import type { Chunk, ChunkItem, ChunkResult, TokenizedRecord } from "./process-chunk.js";
import { readTableBatches } from "./readers.js";
import { MalformedRowTracker, type MalformedSummary, type RowFormat } from "./row-formats.js";
import {
  assertNoDifferences,
  countSourceRows,
  type MaterializedSource,
  materializeSource,
} from "./source.js";
import { type DatasetSpec, describeSpec } from "./spec.js";
import {
  packedSftTable,
  preferenceTable,
  rlvrTable,
  sftTable,
  type TokenizedLayout,
} from "./tokenized-tables.js";
import { loadTokenizer } from "./tokenizer.js";
import {
  ignoredLabel,
  type MaskedSpan,
  type TokenizedPreference,
  type TokenizedRlvr,
  type TokenizedSft,
} from "./transforms.js";
import { createTokenizationPool } from "./worker-pool.js";

/** What to prepare: sources mixed by their amounts, one row format, one tokenizer. */
export interface PrepareDatasetParams {
  sources: DatasetSpec[];
  format: RowFormat;
  tokenizer: { directory: string; chatTemplate?: ChatTemplateChoice };
  /** SFT/preference: maximum tokens per conversation; RLVR: maximum prompt tokens. */
  maxLength: number;
  /** SFT only: pack into rows of `sequenceLength` (≥ maxLength), best-fit decreasing within windows of `windowDocuments` (default 8192). */
  packing?: { sequenceLength: number; windowDocuments?: number };
  /** SFT only: spans of assistant text without loss, e.g. tool output (see `tokenizeSft`). */
  maskedSpans?: readonly MaskedSpan[];
  /** Seeds the mixture sampling. */
  seed: number;
  /** Tokenization threads (default 1: this thread). */
  workers?: number;
  /** Default: `POSTTRAIN_CACHE` or ~/.cache/posttrain. */
  cacheRoot?: string;
  /** Malformed rows tolerated before the run fails (default 0). */
  maximumMalformedRows?: number;
  hub?: HubOverrides;
  /** Resolves local source folders (default: the working directory). */
  baseDirectory?: string;
  progress?: ProgressParams["mode"];
  /** Source rows per unit of work sent to a worker (default 256). */
  chunkRows?: number;
  /** Output rows per Arrow shard (default 16384). */
  shardRows?: number;
}

/** A tokenized dataset in the cache. */
export interface PreparedDataset {
  directory: string;
  key: string;
  cacheHit: boolean;
  /** Why an existing entry was rebuilt, when it failed verification. */
  rebuiltBecause: string[] | null;
  manifest: CacheManifest;
}

/** The transform names recorded in the cache key (bump the suffix when behaviour changes). */
const transformNames: Record<RowFormat, string> = {
  sft: "sft_tokenize_mask_truncate_v1",
  preference: "preference_tokenize_shared_prompt_v1",
  rlvr: "rlvr_tokenize_prompt_v1",
};

function layoutOf(params: PrepareDatasetParams): TokenizedLayout {
  if (params.format === "sft") return params.packing === undefined ? "sft" : "sft-packed";
  return params.format;
}

/**
 * Prepares a tokenized dataset, or returns the cached one. Sources are put on disk and
 * verified (see {@link materializeSource}), then streamed file by file, batch by batch:
 * each source row is emitted as many times as the mixture plan says, checked against the
 * row format (malformed rows counted per reason; more than `maximumMalformedRows` fails the
 * run), tokenized with masks (on `workers` threads), optionally packed, and written as
 * Arrow IPC shards. Output is identical for any worker count. The cache key covers every
 * input (see {@link tokenizedCacheKey}); a hit is verified shard by shard and a corrupt
 * entry is rebuilt.
 */
export async function prepareDataset(params: PrepareDatasetParams): Promise<PreparedDataset> {
  if (params.packing !== undefined && params.format !== "sft") {
    throw new DataError({ code: "data_packing_invalid", message: "packing applies to the sft format only" });
  }
  if (params.packing !== undefined && params.packing.sequenceLength < params.maxLength) {
    throw new DataError({
      code: "data_packing_invalid",
      message: `packed length ${params.packing.sequenceLength} is shorter than maxLength ${params.maxLength}`,
    });
  }
  const materialized: MaterializedSource[] = [];
  for (const spec of params.sources) {
    materialized.push(
      await materializeSource({
        spec,
        ...(params.hub === undefined ? {} : { hub: params.hub }),
        ...(params.baseDirectory === undefined ? {} : { baseDirectory: params.baseDirectory }),
      }),
    );
  }
  const tokenizer = await loadTokenizer(params.tokenizer);
  const layout = layoutOf(params);
  const inputs = {
    sources: materialized.map((source) => ({
      dataset:
        source.spec.kind === "hub"
          ? { repo: source.spec.repo, revision: source.spec.revision }
          : { local: true },
      config: source.spec.config ?? null,
      split: source.spec.split ?? null,
      files: source.files.map((file) => ({ path: file.path, sha256: file.sha256 })),
      amount: source.spec.amount ?? null,
    })),
    seed: params.seed,
    transform: {
      name: transformNames[params.format],
      maxLength: params.maxLength,
      packing: params.packing === undefined ? null : { windowDocuments: 8192, ...params.packing },
      // Only when set, so every cache key of a run without masked spans stays what it was.
      ...(params.maskedSpans === undefined || params.maskedSpans.length === 0
        ? {}
        : { maskedSpans: params.maskedSpans.map((span) => ({ start: span.start, end: span.end })) }),
    },
    tokenizer: tokenizer.assetHashes,
    chatTemplateSha256: tokenizer.chatTemplate.sha256,
    layout,
  };
  const key = tokenizedCacheKey(inputs);
  const cacheRoot = params.cacheRoot ?? cacheRootFromEnvironment();
  const directory = tokenizedCacheDirectory({ cacheRoot, key });
  const lookup = await lookupTokenizedCache({ directory });
  if (lookup.status === "hit") {
    return { directory, key, cacheHit: true, rebuiltBecause: null, manifest: lookup.manifest };
  }

  const plans: SourcePlan[] = [];
  for (const source of materialized) {
    // A locked spec's row count plans the mixture without an extra pass over the files;
    // the streaming pass below checks it.
    const rows = source.spec.expect?.rows ?? (await countSourceRows(source)).rows;
    plans.push(
      planSource({
        name: describeSpec(source.spec),
        sourceRows: rows,
        amount: source.spec.amount,
        seed: params.seed,
      }),
    );
  }

  const buildDirectory = join(
    cacheRoot,
    "tokenized",
    `.build-${key.slice(0, 16)}-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  await mkdir(buildDirectory, { recursive: true });
  const pool = await createTokenizationPool({
    workers: params.workers ?? 1,
    tokenizer: params.tokenizer,
    settings: {
      format: params.format,
      maxLength: params.maxLength,
      ...(params.maskedSpans === undefined || params.maskedSpans.length === 0
        ? {}
        : { maskedSpans: params.maskedSpans }),
    },
  });
  const total = plans.reduce((sum, plan) => sum + plan.targetRows, 0);
  const progress = createProgress({
    label: "tokenize",
    total,
    unit: "rows",
    ...(params.progress === undefined ? {} : { mode: params.progress }),
  });
  const tracker = new MalformedRowTracker({ maximumMalformedRows: params.maximumMalformedRows ?? 0 });
  const filtered: Record<string, number> = {};
  const totals = { rows: 0, documents: 0, tokens: 0, trainedTokens: 0 };
  const shards: CacheManifest["shards"] = [];
  const shardRows = params.shardRows ?? 16384;
  const windowDocuments = params.packing?.windowDocuments ?? 8192;
  let pendingRecords: TokenizedRecord[] = [];
  let completedRows = 0;

  const writeShard = async (table: Table) => {
    if (table.numRows === 0) return;
    const file = `shard-${String(shards.length).padStart(5, "0")}.arrow`;
    const written = await writeFileAtomic({
      path: join(buildDirectory, file),
      content: tableToIPC(table, "file"),
    });
    shards.push({ file, rows: table.numRows, size: written.size, sha256: written.sha256 });
    totals.rows += table.numRows;
  };
  const flush = async (final: boolean) => {
    const threshold = layout === "sft-packed" ? windowDocuments : shardRows;
    while (pendingRecords.length >= threshold || (final && pendingRecords.length > 0)) {
      const batch = pendingRecords.slice(0, threshold);
      pendingRecords = pendingRecords.slice(batch.length);
      if (layout === "sft-packed") {
        const packed = packBestFitDecreasing({
          documents: batch as PackingDocument[],
          sequenceLength: params.packing!.sequenceLength,
          padTokenId: tokenizer.padTokenId ?? tokenizer.eosTokenIds[0] ?? 0,
        });
        await writeShard(packedSftTable(packed));
      } else if (layout === "sft") await writeShard(sftTable(batch as TokenizedSft[]));
      else if (layout === "preference") await writeShard(preferenceTable(batch as TokenizedPreference[]));
      else await writeShard(rlvrTable(batch as TokenizedRlvr[]));
    }
  };
  const accept = async (result: ChunkResult) => {
    tracker.merge(result.malformed);
    for (const [reason, count] of Object.entries(result.filtered))
      filtered[reason] = (filtered[reason] ?? 0) + (count ?? 0);
    for (const record of result.records) {
      totals.documents += 1;
      if ("labels" in record) {
        totals.tokens += record.inputIds.length;
        for (const label of record.labels) if (label !== ignoredLabel) totals.trainedTokens += 1;
      } else if ("chosenIds" in record) {
        totals.tokens += record.promptIds.length + record.chosenIds.length + record.rejectedIds.length;
        totals.trainedTokens += record.chosenIds.length + record.rejectedIds.length;
      } else totals.tokens += record.promptIds.length;
      pendingRecords.push(record);
    }
    completedRows += result.records.length;
    for (const [, count] of Object.entries(result.filtered)) completedRows += count ?? 0;
    completedRows += result.malformed.malformed;
    progress.update({ completed: Math.min(completedRows, total) });
    await flush(false);
  };

  // Results are accepted strictly in chunk order, whatever order the workers finish in.
  const inFlight = new Map<number, Promise<ChunkResult>>();
  let nextToSubmit = 0;
  let nextToAccept = 0;
  const maxInFlight = Math.max(2, pool.workers * 3);
  const drainOne = async () => {
    const result = await inFlight.get(nextToAccept)!;
    inFlight.delete(nextToAccept);
    nextToAccept += 1;
    await accept(result);
  };
  const submit = async (chunk: Omit<Chunk, "index">) => {
    const index = nextToSubmit;
    nextToSubmit += 1;
    const promise = pool.run({ ...chunk, index });
    promise.catch(() => {}); // surfaced by drainOne, in order
    inFlight.set(index, promise);
    while (inFlight.size >= maxInFlight) await drainOne();
  };

  try {
    const chunkRows = params.chunkRows ?? 256;
    for (const [sourceIndex, source] of materialized.entries()) {
      const plan = plans[sourceIndex]!;
      let rowNumber = 0;
      for (const file of source.files) {
        const label = `${describeSpec(source.spec)}:${file.path}`;
        let items: ChunkItem[] = [];
        for await (const table of readTableBatches({ path: file.localPath })) {
          for (const row of rowsFromTable(table)) {
            const copies = plan.copies[rowNumber] ?? 0;
            if (copies > 0) items.push({ row, rowNumber, copies });
            rowNumber += 1;
            if (items.length >= chunkRows) {
              await submit({ source: label, items });
              items = [];
            }
          }
        }
        if (items.length > 0) await submit({ source: label, items });
      }
      if (rowNumber !== plan.sourceRows) {
        assertNoDifferences({
          spec: source.spec,
          differences: [`${rowNumber} rows, expected ${plan.sourceRows}`],
        });
      }
    }
    while (inFlight.size > 0) await drainOne();
    tracker.enforce();
    await flush(true);
    const malformed: MalformedSummary = tracker.summary();
    const manifest: CacheManifest = {
      cacheVersion: 1,
      key,
      layout,
      inputs,
      shards,
      totals,
      sources: plans.map((plan) => ({
        label: plan.name,
        sourceRows: plan.sourceRows,
        targetRows: plan.targetRows,
      })),
      malformed,
      filtered,
      createdAt: new Date().toISOString(),
    };
    await writeJsonAtomic({ path: join(buildDirectory, "manifest.json"), value: manifest });
    await publishTokenizedCache({ buildDirectory, directory });
    return {
      directory,
      key,
      cacheHit: false,
      rebuiltBecause: lookup.status === "corrupt" ? lookup.problems : null,
      manifest,
    };
  } catch (error) {
    await Promise.allSettled(inFlight.values());
    await rm(buildDirectory, { recursive: true, force: true });
    throw error;
  } finally {
    progress.stop();
    await pool.close();
  }
}
