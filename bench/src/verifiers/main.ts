// `pnpm bench:verifiers`: checks per second per registered verifier through `verify` on a
// warm 2-worker pool (the RLVR setting), the pool's start-up time, and the worst-case
// latency of one check over the adversarial inputs (every adversarial probe plus the
// pathological set below), each bounded by the pool's hard timeout, and the `math` row on
// hard but honest inputs (throughput and worst latency; `--hard-repeats=N`). `--verifiers=a,b`
// runs only those verifiers' rows. No reference runs
// beside it: open-instruct's math check needs sympy's LaTeX parser (antlr4), which Debian's
// python3-sympy here lacks, and pip is unreachable.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "@posttrain/data";
import {
  countUtf8Bytes,
  extractMathAnswer,
  hendrycksIsEquivalent,
  normalizeFinalAnswer,
  VerifierPool,
  type VerifierProbe,
  type VerifyRow,
  verifierProbes,
  verifierRegistry,
  verify,
} from "@posttrain/verifiers";
import { machineDescription, peakRssMegabytes, printResultLine } from "../measure.js";
import { sweepRows } from "./ifeval-sweep.js";

const argument = (name: string, fallback: number) => {
  const found = process.argv.find((value) => value.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.split("=")[1]);
};
const rowsPerVerifier = argument("rows", 2_000);
const workers = argument("workers", 2);
const timeoutMilliseconds = argument("timeout", 5_000);
/** `--verifiers=math,math_flex` runs only those throughput rows (default: every registered one). */
const onlyVerifiers = process.argv
  .find((value) => value.startsWith("--verifiers="))
  ?.split("=")[1]
  ?.split(",")
  .filter((name) => name !== "");

const benchmarks = fileURLToPath(new URL("../../../../shared/data/benchmarks/", import.meta.url));
// The length verifiers need the policy's tokenizer: SmolLM2's when the shared assets are here,
// else one token per UTF-8 byte.
const tokenizerDirectory = fileURLToPath(
  new URL("../../../../shared/data/tokenizers/SmolLM2-135M-Instruct/", import.meta.url),
);
const countTokens = existsSync(tokenizerDirectory)
  ? await loadTokenizer({ directory: tokenizerDirectory }).then(
      (tokenizer) => (text: string) => tokenizer.encode(text, { addSpecialTokens: false }).length,
    )
  : countUtf8Bytes;
const readJsonl = <Row>(name: string): Row[] | undefined => {
  const path = `${benchmarks}${name}`;
  if (!existsSync(path)) return undefined;
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Row);
};

/** `count` rows cycling through `source`. */
const cycle = (source: VerifyRow[], count: number): VerifyRow[] =>
  source.length === 0
    ? []
    : Array.from({ length: count }, (_, index) => source[index % source.length] as VerifyRow);

const isGiant = (probe: VerifierProbe) => probe.response.length > 20_000;
const fromProbes = (name: string): VerifyRow[] =>
  verifierProbes
    .filter((probe) => probe.verifier === name && !isGiant(probe))
    .map((probe) => ({ response: probe.response, ground_truth: probe.label }));

/** Realistic inputs per verifier: real benchmark answers where present, else its probes. */
function workload(name: string): { rows: VerifyRow[]; source: string } {
  const gsm8k = readJsonl<{ answer: string }>("gsm8k-test.jsonl");
  const math500 = readJsonl<{ answer: string; solution: string }>("math500-test.jsonl");
  if ((name === "gsm8k" || name === "gsm8k_strict") && gsm8k !== undefined) {
    const rows = gsm8k.map((row) => ({
      response: row.answer,
      ground_truth: (row.answer.split("####").at(-1) ?? "").trim().replaceAll(",", ""),
    }));
    return { rows: cycle(rows, rowsPerVerifier), source: "GSM8K test gold solutions" };
  }
  if ((name === "math" || name === "math_flex") && math500 !== undefined) {
    const rows = math500.flatMap((row) => [
      { response: row.solution, ground_truth: row.answer },
      {
        response: `So $\\boxed{${row.answer.replace(/\d+/, (digits) => String(Number(digits) + 1))}}$.`,
        ground_truth: row.answer,
      },
    ]);
    return {
      rows: cycle(rows, rowsPerVerifier),
      source: "MATH-500 gold solutions + perturbed boxed answers",
    };
  }
  if (name === "strict_math" && math500 !== undefined) {
    const rows = math500.map((row) => ({
      response: `Final Answer: The final answer is $${row.answer}$. I hope it is correct.`,
      ground_truth: row.answer,
    }));
    return { rows: cycle(rows, rowsPerVerifier), source: "MATH-500 answers in the Minerva sentence" };
  }
  return {
    rows: cycle(fromProbes(name), Math.min(rowsPerVerifier, 200)),
    source: "its probes (giant ones excluded)",
  };
}

/** Inputs built to hang or crash a naive checker; each must come back 0 within the bound. */
const pathological: Array<{ verifier: string; name: string; row: VerifyRow }> = [
  {
    verifier: "math",
    name: "exponent-tower",
    row: { response: "$\\boxed{10^{10^{10^{10}}}}$", ground_truth: "6" },
  },
  { verifier: "math", name: "factorial-1e6", row: { response: "$\\boxed{1000000!}$", ground_truth: "6" } },
  {
    verifier: "math",
    name: "sum-1e9",
    row: { response: "$\\boxed{\\sum_{n=1}^{10^{9}} n}$", ground_truth: "6" },
  },
  {
    verifier: "math",
    name: "nested-braces-5000",
    row: { response: `$\\boxed{${"{".repeat(5000)}6${"}".repeat(5000)}}$`, ground_truth: "6" },
  },
  {
    verifier: "math",
    name: "response-1MB",
    row: { response: "\\boxed{6} ".repeat(100_000), ground_truth: "6" },
  },
  {
    verifier: "math",
    name: "minerva-prefix-190kB",
    row: { response: "Final Answer: The final answer is ".repeat(5_600), ground_truth: "6" },
  },
  {
    verifier: "math",
    name: "set-of-40-wrong-radicals",
    row: {
      response: `$\\boxed{\\{${Array.from({ length: 40 }, (_, index) => `\\sqrt{${index + 2}}+\\frac{1}{${index + 3}}`).join(", ")}\\}}$`,
      ground_truth: `\\{${Array.from({ length: 40 }, (_, index) => `\\sqrt{${index + 3}}+\\frac{1}{${index + 2}}`).join(", ")}\\}`,
    },
  },
  {
    verifier: "math",
    name: "500-joined-boxes",
    row: {
      response: Array.from({ length: 500 }, (_, index) => `\\boxed{x^{${index}}}`).join(", "),
      ground_truth: "x^{2}",
    },
  },
  {
    verifier: "math",
    name: "relation-chain-of-40",
    row: {
      response: `$\\boxed{${Array.from({ length: 40 }, (_, index) => `x_{${index}}`).join(" < ")}}$`,
      ground_truth: "x < 1",
    },
  },
  { verifier: "gsm8k", name: "digits-190kB", row: { response: "1 ".repeat(95_000), ground_truth: "2" } },
];

/** open-instruct's flex verdict without its sympy step: Minerva-normalised or Hendrycks equality. */
function openInstructFlexWithoutSympy(response: string, label: string): boolean {
  const extraction = extractMathAnswer({ response });
  const candidates = extraction.candidates.map((candidate) =>
    candidate.source === "boxed" ? candidate.text : normalizeFinalAnswer({ answer: candidate.text }),
  );
  return candidates.some(
    (candidate) =>
      normalizeFinalAnswer({ answer: candidate }) === normalizeFinalAnswer({ answer: label }) ||
      hendrycksIsEquivalent({ first: candidate, second: label }),
  );
}

const startedAt = performance.now();
// Per-check latency, measured by the pool from dispatch to verdict (worker preparation excluded).
const checkMilliseconds = new Map<number, number>();
const pool = new VerifierPool({
  size: workers,
  onCheckFinished: ({ task, milliseconds }) => checkMilliseconds.set(task.id, milliseconds),
});
await verify({ verifier: "gsm8k", rows: [{ response: "1", ground_truth: "1" }], pool });
const poolStartSeconds = (performance.now() - startedAt) / 1000;
process.stderr.write(
  `machine: ${machineDescription()}\npool of ${workers} workers ready in ${poolStartSeconds.toFixed(2)} s\n`,
);

const throughput: Record<
  string,
  { checksPerSecond: number; rows: number; meanScore: number; source: string }
> = {};
for (const name of verifierRegistry.keys()) {
  if (onlyVerifiers !== undefined && !onlyVerifiers.includes(name)) continue;
  const { rows, source } = workload(name);
  if (rows.length === 0) {
    process.stderr.write(`${name}: no inputs, skipped\n`);
    continue;
  }
  // Warm-up pass over a slice (lazy engines, JIT), then the timed pass.
  await verify({ verifier: name, rows: rows.slice(0, 50), pool, timeoutMilliseconds, countTokens });
  const start = performance.now();
  const output = await verify({ verifier: name, rows, pool, timeoutMilliseconds, countTokens });
  const seconds = (performance.now() - start) / 1000;
  throughput[name] = {
    checksPerSecond: Math.round(rows.length / seconds),
    rows: rows.length,
    meanScore: Number(output.summary.meanScore.toFixed(4)),
    source,
  };
  process.stderr.write(
    `${name.padEnd(17)} ${String(throughput[name]?.checksPerSecond).padStart(7)} checks/s  (${rows.length} rows, mean ${output.summary.meanScore.toFixed(3)}, errors ${output.summary.errors}, timeouts ${output.summary.timeouts}; ${source})\n`,
  );
}

/**
 * Hard but honest math inputs: each exercises one expensive path of the Math-Verify-level
 * `math` check (identity tests at random points, proportional relations, symbolic matrices,
 * matching large unordered sets of tuples, long solutions with many environments, joined
 * boxes). Every row must score 1; the worst latency is reported per input.
 */
const shuffledTuples = Array.from(
  { length: 24 },
  (_, index) => `(${index}, ${index * index - 3}, ${2 * index + 1})`,
);
const mathHard: Array<{ name: string; row: VerifyRow }> = [
  {
    name: "identity-3-variables",
    row: {
      response: "$\\boxed{\\frac{(x+y)^3 - 3xy(x+y)}{z} + \\sin^2(z) + \\cos^2(z)}$",
      ground_truth: "\\frac{x^3+y^3}{z}+1",
    },
  },
  {
    name: "equation-proportional",
    row: {
      response: "$\\boxed{\\frac{x^2}{16}+\\frac{y^2}{12}+\\frac{z^2}{20} = \\frac{1}{4}}$",
      ground_truth: "\\frac{x^2}{4}+\\frac{y^2}{3}+\\frac{z^2}{5}=1",
    },
  },
  {
    name: "inequality-flipped",
    row: { response: "$\\boxed{-3x + \\frac{1}{2} y > -\\sqrt{2}}$", ground_truth: "6x - y < 2\\sqrt{2}" },
  },
  {
    name: "symbolic-matrix-3x3",
    row: {
      response:
        "$\\boxed{\\begin{bmatrix}\\frac{1}{3x^{2/3}} & \\cos^2 x & 0\\\\ 0 & 1 & x^2-1 \\\\ -\\sin(x) & 0 & e^{2\\ln x}\\end{bmatrix}}$",
      ground_truth:
        "\\begin{pmatrix}\\frac{1}{3\\sqrt[3]{x}^2} & 1-\\sin^2 x & 0\\\\ 0 & 1 & (x-1)(x+1) \\\\ -\\sin(x) & 0 & x^2\\end{pmatrix}",
    },
  },
  {
    name: "set-of-24-tuples-reversed",
    row: {
      response: `$\\boxed{${[...shuffledTuples].reverse().join(", ")}}$`,
      ground_truth: shuffledTuples.join(", "),
    },
  },
  {
    name: "long-solution-last-environment",
    row: {
      response: `${"We compute $a_{n+1} = a_n + 2$ and check $\\frac{n}{2}$ terms. ".repeat(80)}Therefore \\[ \\frac{1}{2} + \\frac{\\sqrt{3}}{3} \\]`,
      ground_truth: "\\frac{3+2\\sqrt{3}}{6}",
    },
  },
  {
    name: "six-joined-boxes",
    row: {
      response:
        "$\\boxed{1+\\sqrt{2}}, \\boxed{1-\\sqrt{2}}, \\boxed{-3}, \\boxed{\\frac{1}{2}}, \\boxed{\\pi}$ and $\\boxed{e^{2}}$",
      ground_truth: "\\{e^2, \\pi, 0.5, -3, 1 \\pm \\sqrt{2}\\}",
    },
  },
  {
    name: "set-of-64-expressions-permuted",
    row: {
      response: `$\\boxed{\\{${Array.from({ length: 64 }, (_, index) => `${64 - index}+x`).join(", ")}\\}}$`,
      ground_truth: `\\{${Array.from({ length: 64 }, (_, index) => `x+${index + 1}`).join(", ")}\\}`,
    },
  },
  {
    name: "interval-union-from-inequality",
    row: {
      response:
        "$x \\in \\boxed{(-\\infty, -\\tfrac{1}{2}) \\cup (-\\tfrac12, 0) \\cup (0, 1) \\cup (1, \\infty)}$",
      ground_truth: "(1,\\infty)\\cup(0,1)\\cup(-\\frac{1}{2},0)\\cup(-\\infty,-\\frac{1}{2})",
    },
  },
];
let mathHardReport:
  | {
      checksPerSecond: number;
      rows: number;
      meanScore: number;
      worstMilliseconds: number;
      worstInput: string;
    }
  | undefined;
if (onlyVerifiers === undefined || onlyVerifiers.includes("math")) {
  const repeats = Math.max(1, Math.floor(argument("hard-repeats", 50)));
  const rows = Array.from({ length: repeats }, () => mathHard.map((input) => input.row)).flat();
  await verify({ verifier: "math", rows: rows.slice(0, mathHard.length), pool, timeoutMilliseconds });
  checkMilliseconds.clear();
  const start = performance.now();
  const output = await verify({ verifier: "math", rows, pool, timeoutMilliseconds });
  const seconds = (performance.now() - start) / 1000;
  let worstMilliseconds = 0;
  let worstInput = "";
  for (const [id, milliseconds] of checkMilliseconds) {
    if (milliseconds > worstMilliseconds) {
      worstMilliseconds = milliseconds;
      worstInput = mathHard[id % mathHard.length]?.name ?? "";
    }
  }
  for (const [index, row] of output.rows.entries())
    if (row.score !== 1 && index < mathHard.length)
      process.stderr.write(`WARNING: hard math input ${mathHard[index]?.name} scored ${row.score}\n`);
  mathHardReport = {
    checksPerSecond: Math.round(rows.length / seconds),
    rows: rows.length,
    meanScore: Number(output.summary.meanScore.toFixed(4)),
    worstMilliseconds: Number(worstMilliseconds.toFixed(1)),
    worstInput,
  };
  process.stderr.write(
    `math hard inputs   ${String(mathHardReport.checksPerSecond).padStart(7)} checks/s  (${rows.length} rows = ${mathHard.length} inputs × ${repeats}, mean ${mathHardReport.meanScore}, errors ${output.summary.errors}, timeouts ${output.summary.timeouts}); worst ${mathHardReport.worstMilliseconds} ms (${worstInput})\n`,
  );
}

// Every probe input (all kinds), the pathological set, and the IFEval sweep: every one of the
// 54 IFEval/IFTrain instructions and 25 ifeval_old functions on 26 worst-case ~190 kB inputs.
const selected = (verifier: string) => onlyVerifiers === undefined || onlyVerifiers.includes(verifier);
const sweep = process.argv.includes("--no-ifeval-sweep")
  ? []
  : sweepRows().filter((input) => selected(input.verifier));
const adversarial = [
  ...verifierProbes
    .filter((probe) => verifierRegistry.has(probe.verifier) && selected(probe.verifier))
    .map((probe) => ({
      verifier: probe.verifier,
      name: probe.name,
      row: { response: probe.response, ground_truth: probe.label },
      expectZero: probe.kind === "adversarial",
    })),
  ...pathological
    .filter((input) => selected(input.verifier))
    .map((input) => ({ ...input, expectZero: true })),
  ...sweep.map((input) => ({
    verifier: input.verifier,
    name: `${input.instruction}@${input.attack}`,
    row: input.row,
    expectZero: false,
  })),
];
let worst = { verifier: "", name: "", milliseconds: 0, score: 0, timeout: false };
const latencies: number[] = [];
const worstByVerifier: Record<string, { milliseconds: number; input: string }> = {};
let timeouts = 0;
for (const input of adversarial) {
  checkMilliseconds.clear();
  const output = await verify({
    verifier: input.verifier,
    rows: [input.row],
    pool,
    timeoutMilliseconds,
    countTokens,
  });
  const milliseconds = checkMilliseconds.get(0) ?? 0;
  latencies.push(milliseconds);
  timeouts += output.summary.timeouts;
  if (output.summary.timeouts > 0) process.stderr.write(`TIMEOUT: ${input.verifier}/${input.name}\n`);
  if (milliseconds > (worstByVerifier[input.verifier]?.milliseconds ?? -1))
    worstByVerifier[input.verifier] = { milliseconds: Number(milliseconds.toFixed(1)), input: input.name };
  const row = output.rows[0];
  if (milliseconds > worst.milliseconds) {
    worst = {
      verifier: input.verifier,
      name: input.name,
      milliseconds,
      score: row?.score ?? Number.NaN,
      timeout: output.summary.timeouts > 0,
    };
  }
  if (input.expectZero && (row?.score ?? 1) !== 0)
    process.stderr.write(`WARNING: adversarial ${input.verifier}/${input.name} scored ${row?.score}\n`);
}
const sortedLatencies = [...latencies].sort((a, b) => a - b);
for (const [verifier, value] of Object.entries(worstByVerifier))
  process.stderr.write(
    `worst ${verifier.padEnd(17)} ${value.milliseconds.toFixed(1).padStart(8)} ms  (${value.input})\n`,
  );
process.stderr.write(
  `worst-case latency over ${adversarial.length} probe and worst-case inputs (${timeouts} timeouts): ${worst.milliseconds.toFixed(1)} ms (${worst.verifier}/${worst.name}, score ${worst.score}${worst.timeout ? ", timed out" : ""}); median ${sortedLatencies[Math.floor(sortedLatencies.length / 2)]?.toFixed(1)} ms\n`,
);

// Where our `math` verdict differs from open-instruct's flex verdict without its sympy step
// (the gold boxed, the gold boxed beside a wrong box, "x = gold", and "gold.0" for integers).
const math500 = readJsonl<{ answer: string; solution: string }>("math500-test.jsonl");
let disagreements: Record<string, number> | undefined;
if (math500 !== undefined && (onlyVerifiers === undefined || onlyVerifiers.includes("math"))) {
  const variants = math500.flatMap((row) => [
    { response: `So $\\boxed{${row.answer}}$.`, ground_truth: row.answer },
    { response: `$\\boxed{5}$ or $\\boxed{${row.answer}}$`, ground_truth: row.answer },
    { response: `So $\\boxed{x = ${row.answer}}$.`, ground_truth: row.answer },
    // An equivalent form open-instruct's string checks miss (its sympy step would need antlr4).
    ...(/^\d+$/.test(row.answer)
      ? [{ response: `So $\\boxed{${row.answer}.0}$.`, ground_truth: row.answer }]
      : []),
  ]);
  const ours = await verify({ verifier: "math", rows: variants, pool, timeoutMilliseconds, countTokens });
  disagreements = { rows: variants.length, oursOnly: 0, referenceOnly: 0 };
  for (const [index, row] of ours.rows.entries()) {
    const reference = openInstructFlexWithoutSympy(row.response, String(variants[index]?.ground_truth));
    if (row.score === 1 && !reference) disagreements["oursOnly"] = (disagreements["oursOnly"] ?? 0) + 1;
    if (row.score !== 1 && reference)
      disagreements["referenceOnly"] = (disagreements["referenceOnly"] ?? 0) + 1;
  }
  process.stderr.write(
    `math vs open-instruct flex (no sympy) on ${variants.length} variants: ${JSON.stringify(disagreements)}\n`,
  );
}
await pool.close();

printResultLine({
  benchmark: "verifiers",
  machine: machineDescription(),
  workers,
  timeoutMilliseconds,
  poolStartSeconds: Number(poolStartSeconds.toFixed(3)),
  checksPerSecond: Object.fromEntries(
    Object.entries(throughput).map(([name, value]) => [name, value.checksPerSecond]),
  ),
  adversarialInputs: adversarial.length,
  timeouts,
  lengthTokenCounter: countTokens === countUtf8Bytes ? "utf8-bytes" : "SmolLM2-135M-Instruct",
  worstLatencyMilliseconds: Number(worst.milliseconds.toFixed(1)),
  worstLatencyInput: `${worst.verifier}/${worst.name}`,
  worstLatencyMillisecondsByVerifier: worstByVerifier,
  medianAdversarialLatencyMilliseconds: Number(
    sortedLatencies[Math.floor(sortedLatencies.length / 2)]?.toFixed(1),
  ),
  ...(mathHardReport === undefined ? {} : { mathHardInputs: mathHardReport }),
  ...(disagreements === undefined ? {} : { mathVersusOpenInstructFlex: disagreements }),
  peakRssMegabytes: Math.round(peakRssMegabytes()),
});
