// `node bench/dist/code-sandbox/main.js`: the cost of the code sandbox's value boundary on the
// 164 HumanEval canonical solutions, two at a time: the boundary (program and referee in two
// processes exchanging literal-only data; in-process fallbacks counted) against the 1.x
// in-process referee under the same kernel isolation (`referee: "in_process"`), and the
// classic unhardened runner (`python3 -c program`; reference.py), plus the latency of one
// sandboxed run. Needs ../shared/data/benchmarks/humaneval.jsonl.gz.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import {
  createTaskPool,
  detectSandboxIsolation,
  resolveInterpreter,
  runProgramTests,
} from "@posttrain/verifiers";
import {
  machineDescription,
  medianSeconds,
  peakRssMegabytes,
  printResultLine,
  runPythonReference,
} from "../measure.js";

interface HumanEvalRow {
  task_id: string;
  prompt: string;
  canonical_solution: string;
  test: string;
  entry_point: string;
}

const concurrency = 2;
const humanevalPath = fileURLToPath(
  new URL("../../../../shared/data/benchmarks/humaneval.jsonl.gz", import.meta.url),
);
if (!existsSync(humanevalPath)) throw new Error(`missing ${humanevalPath}`);
const rows = gunzipSync(readFileSync(humanevalPath))
  .toString("utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line) as HumanEvalRow);

const isolation = await detectSandboxIsolation();
const interpreter = await resolveInterpreter({ language: "python" });
const pool = createTaskPool({ concurrency });

/** All 164 problems with one referee mode; returns seconds, passes and in-process fallbacks. */
async function runAll(referee: "boundary" | "in_process") {
  const start = performance.now();
  const results = await Promise.all(
    rows.map((row) =>
      runProgramTests({
        program: row.prompt + row.canonical_solution,
        language: "python",
        tests: [{ kind: "assert", code: `${row.test}\ncheck(${row.entry_point})\n` }],
        limits: { wallSeconds: 20 },
        pool,
        referee,
      }),
    ),
  );
  return {
    seconds: (performance.now() - start) / 1000,
    passed: results.filter((result) => result.score === 1).length,
    inProcess: results.filter((result) => result.outcomes.some((outcome) => outcome.mode === "in_process"))
      .length,
    sandbox: results[0]?.sandbox,
  };
}

// Alternated twice to spread the load of other users of the machine over both modes.
const boundaryRuns = [];
const inProcessRuns = [];
for (let round = 0; round < 2; round += 1) {
  boundaryRuns.push(await runAll("boundary"));
  inProcessRuns.push(await runAll("in_process"));
}
const best = (runs: Array<{ seconds: number }>) => Math.min(...runs.map((run) => run.seconds));
const boundary = boundaryRuns[0] as Awaited<ReturnType<typeof runAll>>;
const inProcess = inProcessRuns[0] as Awaited<ReturnType<typeof runAll>>;
const boundarySeconds = best(boundaryRuns);
const inProcessSeconds = best(inProcessRuns);

const referenceScript = fileURLToPath(new URL("../../src/code-sandbox/reference.py", import.meta.url));
const reference = runPythonReference({
  script: referenceScript,
  args: [humanevalPath, String(concurrency)],
  threads: 1,
});

const single = await medianSeconds({
  run: () =>
    runProgramTests({
      program: "def add(a, b):\n    return a + b",
      language: "python",
      tests: [{ kind: "assert", code: "assert add(1, 2) == 3" }],
      pool,
    }),
  warmup: 1,
  repeats: 9,
});

const figures = {
  benchmark: "code-sandbox",
  machine: machineDescription(),
  interpreter: `${interpreter.executable} ${interpreter.version}`,
  isolation: { ...isolation, tools: undefined, notes: undefined, sandbox: boundary.sandbox },
  concurrency,
  problems: rows.length,
  boundaryPassed: boundary.passed,
  boundaryInProcessFallbacks: boundary.inProcess,
  boundarySeconds: Number(boundarySeconds.toFixed(2)),
  inProcessPassed: inProcess.passed,
  inProcessSeconds: Number(inProcessSeconds.toFixed(2)),
  boundaryCostRatio: Number((boundarySeconds / inProcessSeconds).toFixed(3)),
  referencePassed: reference.passed,
  referenceSeconds: Number(Number(reference.seconds).toFixed(2)),
  singleRunMedianMilliseconds: Number((single.median * 1000).toFixed(1)),
  peakRssMegabytes: Number(peakRssMegabytes().toFixed(1)),
};
console.log(`HumanEval canonical solutions, ${concurrency} at a time on ${figures.machine}`);
console.log(
  `  value boundary: ${boundary.passed}/${rows.length} passed (${boundary.inProcess} in-process fallbacks), best of 2: ${figures.boundarySeconds} s`,
);
console.log(
  `  in-process referee (1.x mode, same isolation): ${inProcess.passed}/${rows.length} passed, best of 2: ${figures.inProcessSeconds} s`,
);
console.log(`  boundary / in-process: ${figures.boundaryCostRatio}x`);
console.log(
  `  unhardened python: ${reference.passed}/${rows.length} passed in ${figures.referenceSeconds} s`,
);
console.log(`  one sandboxed test, median of 9: ${figures.singleRunMedianMilliseconds} ms`);
printResultLine(figures);
