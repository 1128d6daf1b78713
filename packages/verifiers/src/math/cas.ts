/**
 * Scalar mathematical equivalence through a computer algebra system: @cortex-js/compute-engine
 * parses LaTeX into MathJSON, canonicalises (exact rationals, radicals, π, e, i) and
 * evaluates numerically. Every input is parsed NON-canonically first and screened, because
 * canonicalisation itself evaluates constant subexpressions (`2^{2^{2^{2^{2^2}}}}`,
 * `100000!` take seconds to forever); unsafe trees fall back to structural equality.
 */
import { ComputeEngine } from "@cortex-js/compute-engine";
import { Random } from "@posttrain/core";
import { compileReal, type RealFunction } from "./fast-evaluate.js";

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

/** Recent parses by LaTeX text: a set of n items is compared n² times, but parsed n times. */
const parseCache = new Map<string, CasParse>();
const parseCacheSize = 512;

/** Parses LaTeX without evaluating anything, then canonicalises only when safe (memoised). */
export function parseLatex(params: { latex: string }): CasParse {
  const cached = parseCache.get(params.latex);
  if (cached !== undefined) return cached;
  const parsed = parseUncached(params.latex);
  if (parseCache.size >= parseCacheSize) parseCache.clear();
  parseCache.set(params.latex, parsed);
  return parsed;
}

function parseUncached(latex: string): CasParse {
  const params = { latex };
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

const symbolsCache = new WeakMap<Expression, string[]>();

function freeSymbols(expression: Expression): string[] {
  let symbols = symbolsCache.get(expression);
  if (symbols === undefined) {
    symbols = [...new Set(expression.unknowns)].filter((name) => !constants.has(name)).sort();
    symbolsCache.set(expression, symbols);
  }
  return symbols;
}

/** Ordered containers compared element by element (vectors, matrices). */
const containerHeads = new Set(["Matrix", "List", "Tuple"]);

function isContainer(json: Json): json is unknown[] {
  return Array.isArray(json) && typeof json[0] === "string" && containerHeads.has(json[0]);
}

/** A matrix's rows without its delimiter annotations (`'[]'`, `'..'`): pmatrix ≡ bmatrix ≡ array. */
function containerBody(json: unknown[]): unknown[] {
  if (json[0] === "Matrix" && isContainer(json[1])) return json[1];
  return json;
}

/** Same container head and shape, and every element equivalent (symbolically or by identity test). */
function containersEquivalent(gold: Json, answer: Json, seed: string): boolean {
  if (isContainer(gold) || isContainer(answer)) {
    if (!isContainer(gold) || !isContainer(answer)) return false;
    const first = containerBody(gold);
    const second = containerBody(answer);
    if (first[0] !== second[0] || first.length !== second.length) return false;
    return first.every((part, index) => index === 0 || containersEquivalent(part, second[index], seed));
  }
  if (typeof gold === "string" && typeof answer === "string" && gold.startsWith("'")) return gold === answer;
  if (JSON.stringify(gold) === JSON.stringify(answer)) return true;
  const engine = computeEngine();
  const first = engine.box(gold as Parameters<ComputeEngine["box"]>[0]);
  const second = engine.box(answer as Parameters<ComputeEngine["box"]>[0]);
  return expressionsEquivalent(first, second, seed, false).equivalent;
}

/** Test points per comparison with free variables (at least {@link minimumAgreeingPoints} must evaluate). */
export const identityTestPoints = 12;
export const minimumAgreeingPoints = 8;

/** A 32-bit FNV-1a hash: the per-comparison seed of the test-point stream. */
function hashText(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Test points for an identity test, drawn from core's seeded PRNG with a stream per comparison
 * (the seed mixes a fixed project seed with a hash of both answers, so verdicts are
 * reproducible but the points differ for every pair). Coordinates are full-precision doubles
 * in ranges that alternate between (0.05, 3) (domains of √, log), (−10, 10) and (−100, 100),
 * so no lattice such as multiples of 1/1000 is ever hit except with probability ~0.
 */
function testPoints(symbols: string[], seed: string): Array<Record<string, number>> {
  const random = Random.fromSeed(20241119).stream(`math-equivalence:${hashText(seed)}`);
  const ranges: Array<[number, number]> = [
    [0.05, 3],
    [-10, 10],
    [0.05, 3],
    [-100, 100],
  ];
  return Array.from({ length: identityTestPoints }, (_, index) => {
    const [low, high] = ranges[index % ranges.length] as [number, number];
    const point: Record<string, number> = {};
    for (const name of symbols) point[name] = low + random.nextFloat() * (high - low);
    return point;
  });
}

const compiledCache = new WeakMap<Expression, RealFunction | null>();

/** The expression compiled for double evaluation (memoised), or undefined outside the subset. */
function compiled(expression: Expression): RealFunction | undefined {
  let value = compiledCache.get(expression);
  if (value === undefined) {
    value = compileReal(expression.json) ?? null;
    compiledCache.set(expression, value);
  }
  return value ?? undefined;
}

/**
 * Values of both sides at a point: plain doubles through {@link compileReal} when both compile
 * and are real there, else the CAS (complex values, functions outside the fast subset).
 */
function pointEvaluator(
  gold: Expression,
  answer: Expression,
): (point: Record<string, number>) => [Complex | undefined, Complex | undefined] {
  const fastGold = compiled(gold);
  const fastAnswer = compiled(answer);
  return (point) => {
    if (fastGold !== undefined && fastAnswer !== undefined) {
      try {
        const first = fastGold(point);
        const second = fastAnswer(point);
        if (Number.isFinite(first) && Number.isFinite(second))
          return [
            { re: first, im: 0 },
            { re: second, im: 0 },
          ];
      } catch {
        // A variable the fast path does not know: the CAS decides.
      }
    }
    return [numericValue(gold.subs(point)), numericValue(answer.subs(point))];
  };
}

/** Math-Verify rounds both sides to 6 decimals when either is a decimal literal. */
export const decimalPlaces = 6;

function roundedEqual(first: Complex, second: Complex): boolean {
  const round = (value: number) => Math.round(value * 10 ** decimalPlaces);
  return round(first.re) === round(second.re) && round(first.im) === round(second.im);
}

function expressionsEquivalent(
  gold: Expression,
  answer: Expression,
  seed: string,
  decimals: boolean,
): CasVerdict {
  const goldSymbols = freeSymbols(gold);
  const answerSymbols = freeSymbols(answer);
  if (goldSymbols.join(",") !== answerSymbols.join(","))
    return { equivalent: false, method: "cas_different_variables" };
  if (goldSymbols.length === 0) {
    const first = numericValue(gold);
    const second = numericValue(answer);
    if (first === undefined || second === undefined) return { equivalent: false, method: "cas_not_numeric" };
    if (close(first, second)) return { equivalent: true, method: "cas_numeric" };
    return { equivalent: decimals && roundedEqual(first, second), method: "cas_numeric_rounded" };
  }
  // The canonical forms are already known to differ (checked by the caller). Random points
  // decide; the symbolic check (a zero canonical difference: compute-engine folds like terms)
  // is the fallback where too few points evaluate, and only for small trees (the CAS's
  // subtraction costs milliseconds, too much for every pair of a large set).
  let agreed = 0;
  const value = pointEvaluator(gold, answer);
  for (const point of testPoints(goldSymbols, seed)) {
    const [first, second] = value(point);
    if (first === undefined || second === undefined) continue;
    if (!close(first, second)) return { equivalent: false, method: "cas_identity_test" };
    agreed += 1;
  }
  if (agreed >= minimumAgreeingPoints) return { equivalent: true, method: "cas_identity_test" };
  const small = JSON.stringify(gold.json).length + JSON.stringify(answer.json).length < 240;
  if (small && JSON.stringify(gold.sub(answer).json) === "0")
    return { equivalent: true, method: "cas_symbolic" };
  return { equivalent: false, method: "cas_identity_test" };
}

export interface CasVerdict {
  equivalent: boolean;
  /** How the verdict was reached, for `details`. */
  method: string;
}

const hasDecimal = (latex: string) => /\d\.\d|(?:^|[^\d])\.\d/.test(latex);

/**
 * Whether two LaTeX scalars denote the same value:
 * - both unsafe or invalid: equal only when their parse trees are identical (never for
 *   parse errors);
 * - constants: numerically equal to 1e-9 relative (complex values too), or, when either side
 *   is written with a decimal point, equal after rounding both to 6 decimals (Math-Verify's
 *   `float_rounding=6`);
 * - vectors / matrices (pmatrix ≡ bmatrix ≡ array): same shape, element by element;
 * - expressions with free variables: same variable set; a zero canonical difference, else an
 *   identity test at {@link identityTestPoints} random points drawn per comparison, at least
 *   {@link minimumAgreeingPoints} of which must evaluate and all agree.
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
  const seed = `${params.gold}\u0000${params.answer}`;
  if (isContainer(gold.json) || isContainer(answer.json)) {
    let goldJson = gold.json;
    let answerJson = answer.json;
    // A matrix expression (a sum, a product) is evaluated first when it is constant.
    if (!isContainer(goldJson) && freeSymbols(gold.expression).length === 0)
      goldJson = gold.expression.evaluate().json;
    if (!isContainer(answerJson) && freeSymbols(answer.expression).length === 0)
      answerJson = answer.expression.evaluate().json;
    return { equivalent: containersEquivalent(goldJson, answerJson, seed), method: "cas_elementwise" };
  }
  return expressionsEquivalent(
    gold.expression,
    answer.expression,
    seed,
    hasDecimal(params.gold) || hasDecimal(params.answer),
  );
}

/**
 * Whether two relations `left − right` are the same up to a constant factor: for equations a
 * nonzero one (`2x+4y−3=0` ≡ `y=−x/2+3/4`), for inequalities a positive one (so a flipped
 * inequality must also flip its sides). Decided at random test points like
 * {@link casEquivalent}; relations without free variables are never equal this way.
 */
export function casProportional(params: { gold: string; answer: string; positive: boolean }): CasVerdict {
  const gold = parseLatex({ latex: params.gold });
  const answer = parseLatex({ latex: params.answer });
  if (gold.kind !== "expression" || answer.kind !== "expression")
    return { equivalent: false, method: "cas_parse_failed" };
  const symbols = freeSymbols(gold.expression);
  if (symbols.length === 0 || symbols.join(",") !== freeSymbols(answer.expression).join(","))
    return { equivalent: false, method: "cas_different_variables" };
  let ratio: Complex | undefined;
  let agreed = 0;
  const value = pointEvaluator(gold.expression, answer.expression);
  for (const point of testPoints(symbols, `${params.gold}\u0000${params.answer}`)) {
    const [first, second] = value(point);
    if (first === undefined || second === undefined) continue;
    const scale = second.re * second.re + second.im * second.im;
    if (scale < 1e-18) {
      if (Math.hypot(first.re, first.im) > 1e-9) return { equivalent: false, method: "cas_proportional" };
      continue;
    }
    const current = {
      re: (first.re * second.re + first.im * second.im) / scale,
      im: (first.im * second.re - first.re * second.im) / scale,
    };
    if (Math.hypot(current.re, current.im) < 1e-12) return { equivalent: false, method: "cas_proportional" };
    if (ratio === undefined) ratio = current;
    else if (!close(ratio, current)) return { equivalent: false, method: "cas_proportional" };
    agreed += 1;
  }
  if (ratio === undefined || agreed < minimumAgreeingPoints)
    return { equivalent: false, method: "cas_proportional" };
  if (params.positive && !(ratio.re > 0 && Math.abs(ratio.im) < 1e-9))
    return { equivalent: false, method: "cas_proportional" };
  return { equivalent: true, method: "cas_proportional" };
}

/** Builds the engine and runs one parse, so the first real check does not pay for it. */
export function warmUpCas(): void {
  parseLatex({ latex: "\\frac{1}{2}+x" });
}
