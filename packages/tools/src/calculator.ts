import { all, create, type MathNode } from "mathjs";
import { z } from "zod";
import type { Tool, ToolResult } from "./types.js";

/**
 * mathjs with every number parsed as an exact rational (Fraction.js, arbitrary-size bigint
 * numerator and denominator). The parser is mathjs's; what it may evaluate is limited by
 * {@link checkExpression}: numbers, + - * / ^ % (mod), unary ±, parentheses and a few exact
 * functions. No symbols, assignments, strings, matrices, units, property access or function
 * definitions, so nothing outside arithmetic is reachable, and there is no `eval`.
 */
const math = create(all, { number: "Fraction" });

const operators = new Set(["add", "subtract", "multiply", "divide", "pow", "mod", "unaryMinus", "unaryPlus"]);
/** Exact functions on rationals and their digit bound (from the arguments' bounds). */
const functions: Record<string, { arity: [number, number]; bound: (digits: number[]) => number }> = {
  abs: { arity: [1, 1], bound: ([a]) => a! },
  floor: { arity: [1, 1], bound: ([a]) => a! },
  ceil: { arity: [1, 1], bound: ([a]) => a! },
  round: { arity: [1, 1], bound: ([a]) => a! },
  mod: { arity: [2, 2], bound: ([a, b]) => a! + b! + 1 },
  gcd: { arity: [2, 8], bound: (digits) => digits.reduce((sum, value) => sum + value, 0) },
  lcm: { arity: [2, 8], bound: (digits) => digits.reduce((sum, value) => sum + value, 0) },
};

/** Longest expression accepted, and largest number of digits any intermediate value may reach. */
export const calculatorBounds = { maxExpressionCharacters: 1000, maxDigits: 10_000, maxNodes: 500 } as const;

class CalculatorRefusal extends Error {}

interface FractionValue {
  s: bigint;
  n: bigint;
  d: bigint;
}

function isFraction(value: unknown): value is FractionValue {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as FractionValue).n === "bigint" &&
    typeof (value as FractionValue).d === "bigint"
  );
}

const digitsOf = (value: bigint) => (value < 0n ? -value : value).toString().length;

/**
 * An upper bound on the decimal digits (numerator + denominator) of the value of `node`,
 * refusing anything outside the arithmetic subset. Exponents are evaluated (they are small
 * subtrees themselves) and must be integers whose result stays within the bound, so the work
 * of an accepted expression is bounded before anything big is computed.
 */
function checkExpression(node: MathNode, count: { nodes: number }): number {
  count.nodes += 1;
  if (count.nodes > calculatorBounds.maxNodes)
    throw new CalculatorRefusal(`expression too long (more than ${calculatorBounds.maxNodes} parts)`);
  const bounded = (digits: number) => {
    if (digits > calculatorBounds.maxDigits)
      throw new CalculatorRefusal(`result too large (more than ${calculatorBounds.maxDigits} digits)`);
    return digits;
  };
  switch (node.type) {
    case "ConstantNode": {
      const value = (node as MathNode & { value: unknown }).value;
      if (!isFraction(value)) throw new CalculatorRefusal("only numbers are allowed");
      return bounded(digitsOf(value.n) + digitsOf(value.d));
    }
    case "ParenthesisNode":
      return checkExpression((node as MathNode & { content: MathNode }).content, count);
    case "OperatorNode": {
      const operator = node as MathNode & { fn: string; op: string; args: MathNode[] };
      if (!operators.has(operator.fn))
        throw new CalculatorRefusal(`operator "${operator.op}" is not allowed`);
      const [left, right] = operator.args;
      if (operator.fn === "unaryMinus" || operator.fn === "unaryPlus") return checkExpression(left!, count);
      const a = checkExpression(left!, count);
      const b = checkExpression(right!, count);
      if (operator.fn === "multiply" || operator.fn === "divide") return bounded(a + b);
      if (operator.fn === "pow") {
        const exponent: unknown = right!.evaluate();
        if (!isFraction(exponent) || exponent.d !== 1n)
          throw new CalculatorRefusal("exponents must be integers (the result must be exact)");
        if (
          exponent.n > BigInt(calculatorBounds.maxDigits) ||
          a * Number(exponent.n) > calculatorBounds.maxDigits
        )
          throw new CalculatorRefusal(`result too large (more than ${calculatorBounds.maxDigits} digits)`);
        return bounded(Math.max(1, a * Number(exponent.n)));
      }
      return bounded(a + b + 1);
    }
    case "FunctionNode": {
      const call = node as MathNode & { fn: MathNode & { name?: string }; args: MathNode[] };
      const name = call.fn.type === "SymbolNode" ? (call.fn.name ?? "") : "";
      const spec = Object.hasOwn(functions, name) ? functions[name] : undefined;
      if (spec === undefined) throw new CalculatorRefusal(`function "${name || "?"}" is not allowed`);
      if (call.args.length < spec.arity[0] || call.args.length > spec.arity[1])
        throw new CalculatorRefusal(`${name} takes ${spec.arity[0]}–${spec.arity[1]} arguments`);
      return bounded(spec.bound(call.args.map((argument) => checkExpression(argument, count))));
    }
    case "SymbolNode":
      throw new CalculatorRefusal(`unknown name "${(node as MathNode & { name: string }).name}"`);
    default:
      throw new CalculatorRefusal(`${node.type.replace(/Node$/, "").toLowerCase()} is not allowed`);
  }
}

/** An exact rational as an integer, a terminating decimal, or `p/q`. */
export function formatRational(params: { value: FractionValue }): string {
  const { value } = params;
  const sign = value.s < 0n && value.n !== 0n ? "-" : "";
  const numerator = value.n < 0n ? -value.n : value.n;
  const denominator = value.d;
  if (denominator === 1n) return `${sign}${numerator}`;
  let rest = denominator;
  let twos = 0;
  let fives = 0;
  while (rest % 2n === 0n) {
    rest /= 2n;
    twos += 1;
  }
  while (rest % 5n === 0n) {
    rest /= 5n;
    fives += 1;
  }
  if (rest !== 1n) return `${sign}${numerator}/${denominator}`;
  const places = Math.max(twos, fives);
  const scaled = ((numerator * 10n ** BigInt(places)) / denominator).toString().padStart(places + 1, "0");
  return `${sign}${scaled.slice(0, -places)}.${scaled.slice(-places)}`;
}

/** Evaluates `expression` exactly, or says why not. */
export function evaluateExpression(params: { expression: string }): { value: string } | { error: string } {
  const expression = params.expression.trim();
  if (expression === "") return { error: "empty expression" };
  if (expression.length > calculatorBounds.maxExpressionCharacters)
    return { error: `expression longer than ${calculatorBounds.maxExpressionCharacters} characters` };
  // Exponent notation with a huge exponent would build a huge bigint while parsing.
  if (/\d[eE][+-]?\d{4,}/.test(expression)) return { error: "number too large" };
  try {
    const node = math.parse(expression);
    checkExpression(node, { nodes: 0 });
    const value: unknown = node.evaluate();
    if (!isFraction(value)) return { error: "the result is not an exact number" };
    return { value: formatRational({ value }) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { error: message };
  }
}

const calculatorArgumentsSchema = z.object({ expression: z.string() }).strict();
export type CalculatorArguments = z.infer<typeof calculatorArgumentsSchema>;

/**
 * `calculator`: exact rational arithmetic (`123456789 * 987654321`, `1/3 + 1/6`, `2^-3`,
 * `7 % 3`, `gcd(12, 18)`) with mathjs's parser over Fraction.js numbers, no floating point.
 * Results print as an integer, a terminating decimal, or `p/q`.
 */
export function createCalculatorTool(): Tool<CalculatorArguments> {
  return {
    name: "calculator",
    version: "1.0.0",
    description:
      "Evaluates an arithmetic expression exactly: numbers, + - * / ^ (integer powers), % (remainder), parentheses, abs, floor, ceil, round, mod, gcd, lcm. Returns an integer, a terminating decimal, or a fraction p/q.",
    argumentSchema: calculatorArgumentsSchema,
    tagArgument: "expression",
    async call(arguments_: CalculatorArguments): Promise<ToolResult> {
      const result = evaluateExpression({ expression: arguments_.expression });
      return "value" in result ? { output: result.value } : { output: "", error: result.error };
    },
  };
}
