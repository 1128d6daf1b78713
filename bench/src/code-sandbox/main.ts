// `node bench/dist/code-sandbox/main.js`: throughput of the hardened code sandbox on the 164
// HumanEval canonical solutions (one sandboxed process per problem: namespaces, user switch,
// rlimits, trusted prelude with the rewritten asserts), two at a time — with the
// self-isolating Python prelude and, in a child process, with the wrapper chain
// (sh + mount + setpriv + prlimit) — against the classic unhardened runner (`python3 -c
// program`, no isolation, two at a time; reference.py), plus the latency of one sandboxed
// run. Needs ../shared/data/benchmarks/humaneval.jsonl.gz.
import { spawnSync } from "node:child_process";
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

const sandboxStart = performance.now();
const outcomes = await Promise.all(
  rows.map((row) =>
    runProgramTests({
      program: row.prompt + row.canonical_solution,
      language: "python",
      tests: [{ kind: "assert", code: `${row.test}\ncheck(${row.entry_point})\n` }],
      limits: { wallSeconds: 20 },
      pool,
    }),
  ),
);
const sandboxSeconds = (performance.now() - sandboxStart) / 1000;
const sandboxPassed = outcomes.filter((result) => result.score === 1).length;

const sandboxIsolation = {
  networkNamespace: isolation.networkNamespace,
  pidNamespace: isolation.pidNamespace,
  privateTemporaryMounts: isolation.privateTemporaryMounts,
  userSwitch: isolation.userSwitch && interpreter.userSwitch,
  prlimit: isolation.prlimit,
  preludeIsolates: interpreter.selfIsolating,
};
if (process.argv.includes("--sandbox-only")) {
  printResultLine({ sandboxPassed, sandboxSeconds, isolation: sandboxIsolation });
  process.exit(0);
}

// The same run with the wrapper chain (sh + mount + setpriv + prlimit) instead of the
// self-isolating prelude, in a child process (the choice is made once per process).
const chain = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--sandbox-only"], {
  encoding: "utf8",
  env: { ...process.env, POSTTRAIN_SANDBOX_WRAPPER_CHAIN: "1" },
});
const chainLines = chain.stdout.trim().split("\n");
const chainFigures = JSON.parse(chainLines[chainLines.length - 1] ?? "{}") as {
  sandboxPassed: number;
  sandboxSeconds: number;
};

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
  isolation: sandboxIsolation,
  concurrency,
  problems: rows.length,
  sandboxPassed,
  sandboxSeconds: Number(sandboxSeconds.toFixed(2)),
  sandboxProblemsPerSecond: Number((rows.length / sandboxSeconds).toFixed(2)),
  wrapperChainPassed: chainFigures.sandboxPassed,
  wrapperChainSeconds: Number(chainFigures.sandboxSeconds.toFixed(2)),
  referencePassed: reference.passed,
  referenceSeconds: Number(Number(reference.seconds).toFixed(2)),
  referenceProblemsPerSecond: Number((rows.length / Number(reference.seconds)).toFixed(2)),
  singleRunMedianMilliseconds: Number((single.median * 1000).toFixed(1)),
  peakRssMegabytes: Number(peakRssMegabytes().toFixed(1)),
};
console.log(`HumanEval canonical solutions, ${concurrency} at a time on ${figures.machine}`);
console.log(
  `  hardened sandbox (prelude isolates: ${interpreter.selfIsolating}): ${sandboxPassed}/${rows.length} passed in ${figures.sandboxSeconds} s (${figures.sandboxProblemsPerSecond}/s)`,
);
console.log(
  `  hardened sandbox, wrapper chain: ${chainFigures.sandboxPassed}/${rows.length} passed in ${figures.wrapperChainSeconds} s`,
);
console.log(
  `  unhardened python: ${reference.passed}/${rows.length} passed in ${figures.referenceSeconds} s (${figures.referenceProblemsPerSecond}/s)`,
);
console.log(`  one sandboxed test, median of 9: ${figures.singleRunMedianMilliseconds} ms`);
printResultLine(figures);
