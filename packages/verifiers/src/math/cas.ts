/**
 * Scalar mathematical equivalence through a computer algebra system: @cortex-js/compute-engine
 * parses LaTeX into MathJSON, canonicalises (exact rationals, radicals, π, e, i) and
 * evaluates numerically. Every input is parsed NON-canonically first and screened, because
 * canonicalisation itself evaluates constant subexpressions (`2^{2^{2^{2^{2^2}}}}`,
 * `100000!` take seconds to forever); unsafe trees fall back to structural equality.
 */
import { ComputeEngine } from "@cortex-js/compute-engine";
import { Random } from "@posttrain/core";

type Expression = NonNullable<ReturnType<ComputeEngine["parse"]>>;

let engine: ComputeEngine | undefined;
/** One engine per thread, created on first use (construction takes ~100 ms). */
function computeEngine(): ComputeEngine {
  engine ??= new ComputeEngine();
  return engine;
}

/** Operations whose evaluation cost is unbounded (sums, products, integrals, limits). */
const unboundedHeads = new Set([
  "Sum",
  "Product",
  "Integrate",
  "Limit",
  "D",
  "Derivative",
  "Loop",
  "Reduce",
  "Map",
  "Block",
]);

/** Limits that keep one comparison cheap. Exceeding one is "unsafe", never an error. */
export const casLimits = {
  maximumNodes: 400,
  maximumDepth: 40,
  maximumExponent: 10_000,
  maximumFactorialArgument: 1_000,
  maximumDigits: 300,
} as const;

type Json = unknown;

/** True when the MathJSON tree contains a parse error (a partial parse never matches). */
function containsError(json: Json): boolean {
  if (Array.isArray(json)) return json[0] === "Error" || json.some((part) => containsError(part));
  return false;
}

function literalMagnitude(json: Json): number | undefined {
  if (typeof json === "number") return Math.abs(json);
  if (typeof json === "object" && json !== null && "num" in json) {
    const value = Number((json as { num: string }).num);
    return Number.isNaN(value) ? undefined : Math.abs(value);
  }
  if (Array.isArray(json) && json[0] === "Negate") return literalMagnitude(json[1]);
  return undefined;
}

/**
 * Why the tree is too expensive to canonicalise or evaluate, or undefined when it is safe.
 * Exponents and factorial arguments must be small literals (or, for exponents, a symbol such
 * as `x^n`), so no nested tower or huge factorial ever reaches the evaluator.
 */
export function unsafeReason(json: Json): string | undefined {
  let nodes = 0;
  const visit = (node: Json, depth: number): string | undefined => {
    nodes += 1;
    if (nodes > casLimits.maximumNodes) return "too many nodes";
    if (depth > casLimits.maximumDepth) return "nested too deeply";
    if (typeof node === "number" && Math.abs(node) > 10 ** casLimits.maximumDigits) return "number too large";
    if (typeof node === "object" && node !== null && "num" in node) {
      const digits = (node as { num: string }).num.replace(/[^0-9]/g, "").length;
      if (digits > casLimits.maximumDigits) return "number too large";
    }
    if (!Array.isArray(node)) return undefined;
    const [head, ...operands] = node;
    if (head === "Power" || head === "Root") {
      const exponent = operands[1];
      if (
        exponent !== undefined &&
        containsHead(exponent, ["Power", "Factorial", "Factorial2", "Exp", "Root"])
      ) {
        return "exponent tower";
      }
      const magnitude = literalMagnitude(exponent);
      if (magnitude !== undefined && magnitude > casLimits.maximumExponent) return "exponent too large";
    }
    if (head === "Exp") {
      const magnitude = literalMagnitude(operands[0]);
      if (magnitude === undefined || magnitude > casLimits.maximumExponent)
        return "exponential of non-literal";
    }
    if (typeof head === "string" && unboundedHeads.has(head)) return "unbounded operation";
    if (head === "Factorial" || head === "Factorial2" || head === "Gamma" || head === "Binomial") {
      for (const operand of operands) {
        const magnitude = literalMagnitude(operand);
        if (magnitude === undefined || magnitude > casLimits.maximumFactorialArgument)
          return "factorial too large";
      }
    }
    for (const operand of operands) {
      const reason = visit(operand, depth + 1);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
  return visit(json, 0);
}

function containsHead(json: Json, heads: string[]): boolean {
  if (!Array.isArray(json)) return false;
  if (typeof json[0] === "string" && heads.includes(json[0])) return true;
  return json.some((part) => containsHead(part, heads));
}

/** The result of parsing one side. */
export type CasParse =
  | { kind: "expression"; expression: Expression; json: Json }
  | { kind: "invalid"; json: Json }
  | { kind: "unsafe"; reason: string; json: Json };

/** Parses LaTeX without evaluating anything, then canonicalises only when safe. */
export function parseLatex(params: { latex: string }): CasParse {
  const raw = computeEngine().parse(params.latex, { form: "raw" });
  const rawJson = raw.json;
  if (containsError(rawJson) || !raw.isValid) return { kind: "invalid", json: rawJson };
  const reason = unsafeReason(rawJson);
  if (reason !== undefined) return { kind: "unsafe", reason, json: rawJson };
  const expression = raw.canonical;
  const json = expression.json;
  if (containsError(json) || !expression.isValid) return { kind: "invalid", json };
  return { kind: "expression", expression, json };
}

interface Complex {
  re: number;
  im: number;
}

function numericValue(expression: Expression): Complex | undefined {
  const value = expression.N();
  const re = value.re;
  const im = value.im;
  if (typeof re !== "number" || typeof im !== "number" || Number.isNaN(re) || Number.isNaN(im))
    return undefined;
  if (!Number.isFinite(re) || !Number.isFinite(im)) return undefined;
  return { re, im };
}

/** Relative tolerance for numeric agreement: exact forms only, not rounded decimals. */
export const relativeTolerance = 1e-9;

function close(first: Complex, second: Complex): boolean {
  const scale = Math.max(1, Math.hypot(first.re, first.im), Math.hypot(second.re, second.im));
  return Math.hypot(first.re - second.re, first.im - second.im) <= relativeTolerance * scale;
}

/** Named constants that are not free variables. */
const constants = new Set([
  "Pi",
  "ExponentialE",
  "ImaginaryUnit",
  "PositiveInfinity",
  "NegativeInfinity",
  "ComplexInfinity",
]);

function freeSymbols(expression: Expression): string[] {
  return [...new Set(expression.unknowns)].filter((name) => !constants.has(name)).sort();
}

/** Ordered containers compared element by element (vectors, matrices). */
const containerHeads = new Set(["Matrix", "List", "Tuple"]);

function isContainer(json: Json): json is unknown[] {
  return Array.isArray(json) && typeof json[0] === "string" && containerHeads.has(json[0]);
}

/** Same container head and shape, and every element numerically equal (constants only). */
function containersEquivalent(gold: Json, answer: Json): boolean {
  if (isContainer(gold) || isContainer(answer)) {
    if (!isContainer(gold) || !isContainer(answer) || gold[0] !== answer[0] || gold.length !== answer.length)
      return false;
    return gold.every((part, index) => index === 0 || containersEquivalent(part, answer[index]));
  }
  if (typeof gold === "string" && typeof answer === "string" && gold.startsWith("'")) return gold === answer;
  if (JSON.stringify(gold) === JSON.stringify(answer)) return true;
  const engine = computeEngine();
  const first = engine.box(gold as Parameters<ComputeEngine["box"]>[0]);
  const second = engine.box(answer as Parameters<ComputeEngine["box"]>[0]);
  if (freeSymbols(first).length > 0 || freeSymbols(second).length > 0) return false;
  const firstValue = numericValue(first);
  const secondValue = numericValue(second);
  return firstValue !== undefined && secondValue !== undefined && close(firstValue, secondValue);
}

export interface CasVerdict {
  equivalent: boolean;
  /** How the verdict was reached, for `details`. */
  method: string;
}

/**
 * Whether two LaTeX scalars denote the same value:
 * - both unsafe or invalid: equal only when their parse trees are identical (never for
 *   parse errors);
 * - constants: numerically equal to 1e-9 relative (complex values too);
 * - expressions with free variables: same variable set, then equal at 5 seeded random
 *   points (Schwartz–Zippel style identity test), at least 3 of which must evaluate.
 */
export function casEquivalent(params: { gold: string; answer: string }): CasVerdict {
  const gold = parseLatex({ latex: params.gold });
  const answer = parseLatex({ latex: params.answer });
  if (gold.kind === "invalid" || answer.kind === "invalid")
    return { equivalent: false, method: "cas_parse_failed" };
  if (gold.kind === "unsafe" || answer.kind === "unsafe") {
    const same = JSON.stringify(gold.json) === JSON.stringify(answer.json);
    return { equivalent: same, method: "cas_structural_unsafe" };
  }
  if (JSON.stringify(gold.json) === JSON.stringify(answer.json))
    return { equivalent: true, method: "cas_identical" };
  if (isContainer(gold.json) || isContainer(answer.json)) {
    return { equivalent: containersEquivalent(gold.json, answer.json), method: "cas_elementwise" };
  }
  const goldSymbols = freeSymbols(gold.expression);
  const answerSymbols = freeSymbols(answer.expression);
  if (goldSymbols.join(",") !== answerSymbols.join(","))
    return { equivalent: false, method: "cas_different_variables" };
  if (goldSymbols.length === 0) {
    const first = numericValue(gold.expression);
    const second = numericValue(answer.expression);
    if (first === undefined || second === undefined) return { equivalent: false, method: "cas_not_numeric" };
    return { equivalent: close(first, second), method: "cas_numeric" };
  }
  const random = Random.fromSeed(20241119).stream("math-equivalence");
  let agreed = 0;
  for (let trial = 0; trial < 5; trial += 1) {
    const point: Record<string, number> = {};
    for (const name of goldSymbols)
      point[name] = Math.round((random.nextFloat() * 4 - 2) * 1000) / 1000 + 0.5;
    const first = numericValue(gold.expression.subs(point));
    const second = numericValue(answer.expression.subs(point));
    if (first === undefined || second === undefined) continue;
    if (!close(first, second)) return { equivalent: false, method: "cas_identity_test" };
    agreed += 1;
  }
  return { equivalent: agreed >= 3, method: "cas_identity_test" };
}

/** Builds the engine and runs one parse, so the first real check does not pay for it. */
export function warmUpCas(): void {
  parseLatex({ latex: "\\frac{1}{2}+x" });
}
