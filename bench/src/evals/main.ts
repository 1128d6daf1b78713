// bench:evals — (1) the OLMES GSM8K exact_match rule: our TypeScript port against a Python
// reference (same verdict on every response; speed), plus the full GSM8K scorer (OLMES rule +
// gsm8k verifier) throughput; (2) the OpenAI-compatible backend against the in-process fake
// server with a fixed 20 ms latency: prompts/s at concurrency 1, 8, 32 against the ideal,
// and replay from the response cache. Data: ../shared/data/benchmarks/gsm8k-test.jsonl.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createOpenAiBackend, olmesGsm8kExactMatch, scoreResponses } from "@posttrain/evals";
import { startFakeOpenAiServer } from "@posttrain/evals/test";
import { machineDescription, peakRssMegabytes, printResultLine, runPythonReference } from "../measure.js";

const benchmarks = fileURLToPath(new URL("../../../../shared/data/benchmarks/", import.meta.url));
const gsm8kPath = join(benchmarks, "gsm8k-test.jsonl");
const reference = fileURLToPath(new URL("../../src/evals/olmes_gsm8k_reference.py", import.meta.url));

if (!existsSync(gsm8kPath)) {
  process.stderr.write(`bench:evals needs ${gsm8kPath}\n`);
  process.exit(1);
}
const rows = readFileSync(gsm8kPath, "utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line) as { question: string; answer: string });

// Response variants per row: the gold solution, a formatted final answer, a wrong one, a hedge,
// a negative and a decimal rendering — the cases where extraction rules disagree.
const pairs: Array<{ response: string; gold: string }> = [];
for (const [index, row] of rows.entries()) {
  const gold = row.answer.slice(row.answer.lastIndexOf("####") + 4).trim();
  const value = Number(gold.replaceAll(",", ""));
  pairs.push({ response: row.answer, gold: row.answer });
  pairs.push({ response: `So the answer is $${value.toLocaleString("en-US")}.`, gold: row.answer });
  pairs.push({ response: `So the answer is ${value + 1 + (index % 3)}.`, gold: row.answer });
  pairs.push({ response: `It is ${value} or ${value + 1}.`, gold: row.answer });
  pairs.push({ response: `The total is -${value}.`, gold: row.answer });
  pairs.push({ response: `So the answer is ${value}.00`, gold: row.answer });
}

const directory = await mkdtemp(join(tmpdir(), "bench-evals-"));
try {
  const pairsPath = join(directory, "pairs.json");
  await writeFile(pairsPath, JSON.stringify(pairs));
  const python = runPythonReference({ script: reference, args: [pairsPath], threads: 1 });
  const start = performance.now();
  const ours = pairs.map((pair) => (olmesGsm8kExactMatch(pair) ? 1 : 0));
  const oursSeconds = (performance.now() - start) / 1000;
  const pythonVerdicts = python["verdicts"] as number[];
  const disagreements = ours.filter((verdict, index) => verdict !== pythonVerdicts[index]).length;

  const scoreStart = performance.now();
  const scored = await scoreResponses({
    task: "gsm8k",
    dataPath: benchmarks,
    responses: rows.map((row, index) => ({ doc_id: index, response: row.answer })),
  });
  const scoreSeconds = (performance.now() - scoreStart) / 1000;

  // HTTP backend against the fake server (20 ms per response).
  const latencyMilliseconds = 20;
  const server = await startFakeOpenAiServer({
    model: "bench",
    faults: { delayMilliseconds: latencyMilliseconds },
  });
  const prompts = rows.slice(0, 400).map((row) => ({
    prompt: {
      kind: "chat" as const,
      messages: [{ role: "user" as const, content: row.question }],
      assistantPrefix: "Answer:",
    },
    sampling: { temperature: 0, maxNewTokens: 512, stop: ["Question:"] },
  }));
  const http: Record<string, number> = {};
  try {
    for (const concurrency of [1, 8, 32]) {
      const backend = await createOpenAiBackend({
        endpoint: server.url,
        model: "bench",
        concurrency,
        retries: 0,
      });
      const begin = performance.now();
      await backend.generate({ requests: prompts });
      const seconds = (performance.now() - begin) / 1000;
      http[`concurrency${concurrency}PromptsPerSecond`] = prompts.length / seconds;
      http[`concurrency${concurrency}IdealPromptsPerSecond`] = (concurrency * 1000) / latencyMilliseconds;
    }
    const cacheDirectory = join(directory, "cache");
    const cached = await createOpenAiBackend({
      endpoint: server.url,
      model: "bench",
      concurrency: 32,
      retries: 0,
      cacheDirectory,
    });
    const fill = performance.now();
    await cached.generate({ requests: prompts });
    http["fillWithCacheSeconds"] = (performance.now() - fill) / 1000;
    const reopened = await createOpenAiBackend({
      endpoint: server.url,
      model: "bench",
      concurrency: 32,
      retries: 0,
      cacheDirectory,
    });
    const replay = performance.now();
    const before = server.requests.length;
    await reopened.generate({ requests: prompts });
    http["replayFromCacheSeconds"] = (performance.now() - replay) / 1000;
    http["requestsDuringReplay"] = server.requests.length - before;
  } finally {
    await server.close();
  }

  process.stdout.write(`machine: ${machineDescription()}\n`);
  printResultLine({
    benchmark: "evals",
    olmesRule: {
      responses: pairs.length,
      disagreementsWithPython: disagreements,
      oursSeconds,
      pythonSeconds: python["seconds"],
    },
    gsm8kGoldScoring: {
      items: scored.tasks[0]?.count,
      exactMatch: scored.tasks[0]?.metrics["exact_match"]?.value,
      seconds: scoreSeconds,
      itemsPerSecond: (scored.tasks[0]?.count ?? 0) / scoreSeconds,
    },
    http,
    peakRssMegabytes: peakRssMegabytes(),
  });
} finally {
  await rm(directory, { recursive: true, force: true });
}
