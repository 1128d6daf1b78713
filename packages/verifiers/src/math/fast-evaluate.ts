/**
 * A small real-valued evaluator of canonical MathJSON for identity tests: arithmetic, powers,
 * roots, trigonometric, logarithmic and exponential functions in plain doubles, about 100×
 * faster than substituting into the CAS at every test point. It never executes generated
 * code. Anything outside that subset makes {@link compileReal} return undefined (the caller
 * then uses the CAS); a point where the real value does not exist (a logarithm or even root
 * of a negative number) evaluates to NaN, and the caller asks the CAS for the complex value.
 */

type Json = unknown;
/** A compiled expression: its value at a point (variable name → value). */
export type RealFunction = (point: Readonly<Record<string, number>>) => number;

const constants: Record<string, number> = { Pi: Math.PI, ExponentialE: Math.E };

const unary: Record<string, (value: number) => number> = {
  Negate: (value) => -value,
  Sqrt: Math.sqrt,
  Abs: Math.abs,
  Exp: Math.exp,
  Ln: Math.log,
  Sin: Math.sin,
  Cos: Math.cos,
  Tan: Math.tan,
  Sec: (value) => 1 / Math.cos(value),
  Csc: (value) => 1 / Math.sin(value),
  Cot: (value) => 1 / Math.tan(value),
  Arcsin: Math.asin,
  Arccos: Math.acos,
  Arctan: Math.atan,
  Sinh: Math.sinh,
  Cosh: Math.cosh,
  Tanh: Math.tanh,
  Square: (value) => value * value,
};

/** A real power: odd integer roots of negatives stay real (`(−8)^{1/3}` = −2). */
function power(base: number, exponent: number): number {
  if (base >= 0 || Number.isInteger(exponent)) return base ** exponent;
  return Number.NaN;
}

function root(base: number, degree: number): number {
  if (base < 0 && Number.isInteger(degree) && degree % 2 === 1) return -((-base) ** (1 / degree));
  return base ** (1 / degree);
}

/** Compiles a canonical MathJSON tree, or undefined when it uses anything outside the subset. */
export function compileReal(json: Json): RealFunction | undefined {
  try {
    return build(json);
  } catch {
    return undefined;
  }
}

class Unsupported extends Error {}

function build(json: Json): RealFunction {
  if (typeof json === "number") return () => json;
  if (typeof json === "string") {
    const constant = constants[json];
    if (constant !== undefined) return () => constant;
    if (json === "ImaginaryUnit" || json.startsWith("'") || /Infinity|NaN/.test(json))
      throw new Unsupported();
    return (point) => {
      const value = point[json];
      if (value === undefined) throw new Unsupported();
      return value;
    };
  }
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const numeric = (json as { num?: unknown }).num;
    if (typeof numeric === "string") {
      const value = Number(numeric.replace(/\(\d+\)$/, ""));
      if (!Number.isFinite(value) || /\(/.test(numeric)) throw new Unsupported();
      return () => value;
    }
    throw new Unsupported();
  }
  if (!Array.isArray(json) || typeof json[0] !== "string") throw new Unsupported();
  const [head, ...operands] = json as [string, ...Json[]];
  const parts = operands.map(build);
  const [first, second] = parts;
  const single = unary[head];
  if (single !== undefined && first !== undefined && parts.length === 1)
    return (point) => single(first(point));
  switch (head) {
    case "Add":
      return (point) => parts.reduce((sum, part) => sum + part(point), 0);
    case "Multiply":
      return (point) => parts.reduce((product, part) => product * part(point), 1);
    case "Subtract":
      if (first !== undefined && second !== undefined && parts.length === 2)
        return (point) => first(point) - second(point);
      break;
    case "Divide":
    case "Rational":
      if (first !== undefined && second !== undefined && parts.length === 2)
        return (point) => first(point) / second(point);
      break;
    case "Power":
      if (first !== undefined && second !== undefined && parts.length === 2)
        return (point) => power(first(point), second(point));
      break;
    case "Root":
      if (first !== undefined && second !== undefined && parts.length === 2)
        return (point) => root(first(point), second(point));
      break;
    case "Log":
      if (first !== undefined && parts.length === 1) return (point) => Math.log10(first(point));
      if (first !== undefined && second !== undefined && parts.length === 2)
        return (point) => Math.log(first(point)) / Math.log(second(point));
      break;
  }
  throw new Unsupported();
}
