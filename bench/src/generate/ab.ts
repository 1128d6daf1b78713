// bench/generate/ab: an A/B of two (or more) builds of the engine's KV-cache decoding, interleaved
// in one process: each variant is an engine module (this checkout's `@posttrain/engine`, or the
// dist/index.js of another build, e.g. a `git worktree` of an older commit built with tsc), with
// the same model (same config and seed), the same prompts, greedy decoding. After one warm-up
// pass each, rounds of one full pass per variant (prefill + `--steps` decode steps) run in ABBA
// order, so the variants share the machine's load; medians per variant. Also checks that every
// variant produced bit-identical logits at every call (sha256 of all logits) and the same tokens.
//
//   node dist/generate/ab.js --shape small --batch 16 --rounds 6 \
//     --engine old=/tmp/engine-old/packages/engine/dist/index.js --engine new=@posttrain/engine
import { createHash } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { machineDescription, peakRssMegabytes, printResultLine } from "../measure.js";
import { describeCpu } from "../peak/probe.js";
import { argmaxRows, generateShapes, median, syntheticPrompts } from "./shapes.js";

type Engine = typeof import("@posttrain/engine");

const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "small" },
    batch: { type: "string", default: "16" },
    prompt: { type: "string", default: "64" },
    steps: { type: "string", default: "32" },
    rounds: { type: "string", default: "6" },
    threads: { type: "string", default: String(cpus().length) },
    engine: { type: "string", multiple: true, default: [] },
    /** Overrides the shape's layer count (e.g. a 4-layer SmolLM2-shaped model for a quick exactness check). */
    layers: { type: "string" },
  },
});
const variants = values.engine.map((text) => {
  const equals = text.indexOf("=");
  if (equals <= 0) throw new Error(`--engine must be name=module, got ${JSON.stringify(text)}`);
  const specifier = text.slice(equals + 1);
  return {
    name: text.slice(0, equals),
    module: isAbsolute(specifier) ? pathToFileURL(specifier).href : specifier,
  };
});
if (variants.length < 2) throw new Error("give at least two --engine name=module");
const shape = generateShapes[values.shape];
if (shape === undefined) throw new Error(`unknown shape ${values.shape}`);
const layers = values.layers === undefined ? undefined : Number(values.layers);
if (layers !== undefined && !(Number.isInteger(layers) && layers > 0))
  throw new Error(`--layers must be a positive integer, got ${JSON.stringify(values.layers)}`);
const config = layers === undefined ? shape : { ...shape, num_hidden_layers: layers };
const batch = Number(values.batch);
const steps = Number(values.steps);
const threads = Number(values.threads);

interface Pass {
  prefill_seconds: number;
  decode_seconds: number;
  logits_sha256: string;
  tokens: string;
}

const runners = new Map<string, () => Promise<Pass>>();
for (const variant of variants) {
  const engine = (await import(variant.module)) as Engine;
  const model = engine.initializePretrainedModel({ config, seed: 1 });
  const session = await engine.DecodingSession.create({ model, threads });
  const vocabulary = model.config.vocab_size;
  const prompts = syntheticPrompts({ batch, length: Number(values.prompt), vocabulary });
  runners.set(variant.name, async () => {
    const hash = createHash("sha256");
    const tokens: number[][] = [];
    let start = performance.now();
    const state = await session.prefill({ prompts });
    const prefill = (performance.now() - start) / 1000;
    start = performance.now();
    for (let step = 0; step < steps; step += 1) {
      hash.update(new Uint8Array(state.logits.buffer, state.logits.byteOffset, state.logits.byteLength));
      const next = argmaxRows(state.logits, batch, vocabulary);
      tokens.push(next);
      if (step === steps - 1) break;
      await session.step({ state, tokens: next });
    }
    return {
      prefill_seconds: prefill,
      decode_seconds: (performance.now() - start) / 1000,
      logits_sha256: hash.digest("hex"),
      tokens: createHash("sha256").update(JSON.stringify(tokens)).digest("hex"),
    };
  });
}
const loadStart = loadavg()[0]!;
const passes = new Map<string, Pass[]>(variants.map((variant) => [variant.name, []]));
const order: string[] = [];
for (let round = -1; round < Number(values.rounds); round += 1) {
  const roundOrder = round % 2 === 0 ? variants : [...variants].reverse();
  for (const variant of roundOrder) {
    const pass = await runners.get(variant.name)!();
    if (round < 0) continue; // warm-up pass
    passes.get(variant.name)!.push(pass);
    order.push(variant.name);
    process.stderr.write(
      `round ${round + 1} ${variant.name}: prefill ${pass.prefill_seconds.toFixed(3)} s, decode ${pass.decode_seconds.toFixed(3)} s\n`,
    );
  }
}
const decodeTokens = batch * (steps - 1);
const summary: Record<string, unknown> = {};
for (const variant of variants) {
  const runs = passes.get(variant.name)!;
  const decode = median(runs.map((run) => run.decode_seconds));
  summary[variant.name] = {
    module: variant.module,
    median_prefill_seconds: median(runs.map((run) => run.prefill_seconds)),
    median_decode_seconds: decode,
    decode_tokens_per_second: decodeTokens / decode,
    prefill_samples: runs.map((run) => run.prefill_seconds),
    decode_samples: runs.map((run) => run.decode_seconds),
  };
  process.stderr.write(
    `${variant.name}: decode ${(decodeTokens / decode).toFixed(1)} tok/s (median of ${runs.length})\n`,
  );
}
const all = [...passes.values()].flat();
printResultLine({
  benchmark: "generate-ab",
  machine: machineDescription(),
  cpu: describeCpu(),
  threads,
  shape: values.shape,
  layers: config["num_hidden_layers"],
  batch,
  prompt: Number(values.prompt),
  steps,
  rounds: Number(values.rounds),
  order,
  logits_bit_identical: all.every((pass) => pass.logits_sha256 === all[0]!.logits_sha256),
  greedy_tokens_identical: all.every((pass) => pass.tokens === all[0]!.tokens),
  process_peak_rss_mb: peakRssMegabytes(),
  load_average_start: loadStart,
  load_average_end: loadavg()[0],
  ...summary,
});
