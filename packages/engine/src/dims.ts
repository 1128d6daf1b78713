/**
 * Symbolic dimensions for build-time shape inference.
 *
 * A dimension is a monomial: an integer coefficient times a product of named symbols
 * (`batch`, `sequence`, ...). Monomials are closed under multiplication and exact division,
 * which is all that reshapes such as `[batch, sequence, hidden] -> [batch*sequence, hidden]`
 * need. Two dimensions are equal when their canonical forms are equal.
 */
export interface Dimension {
  readonly coefficient: number;
  /** Symbol names, sorted, with repetition for powers. Empty for a concrete size. */
  readonly symbols: readonly string[];
}

/** What callers write: a concrete size, a symbol name, or an existing {@link Dimension}. */
export type DimensionLike = number | string | Dimension;

export function dimension(value: DimensionLike): Dimension {
  if (typeof value === "number") return { coefficient: value, symbols: [] };
  if (typeof value === "string") return { coefficient: 1, symbols: [value] };
  return value;
}

export function isConcrete(value: Dimension): boolean {
  return value.symbols.length === 0;
}

export function dimensionsEqual(a: Dimension, b: Dimension): boolean {
  return (
    a.coefficient === b.coefficient &&
    a.symbols.length === b.symbols.length &&
    a.symbols.every((s, i) => s === b.symbols[i])
  );
}

export function multiplyDimensions(a: Dimension, b: Dimension): Dimension {
  return { coefficient: a.coefficient * b.coefficient, symbols: [...a.symbols, ...b.symbols].sort() };
}

/** Exact division, or `undefined` when `a` is not a multiple of `b`. */
export function divideDimensions(a: Dimension, b: Dimension): Dimension | undefined {
  if (b.coefficient === 0 || a.coefficient % b.coefficient !== 0) return undefined;
  const remaining = [...a.symbols];
  for (const symbol of b.symbols) {
    const index = remaining.indexOf(symbol);
    if (index < 0) return undefined;
    remaining.splice(index, 1);
  }
  return { coefficient: a.coefficient / b.coefficient, symbols: remaining };
}

export function productOfDimensions(values: readonly Dimension[]): Dimension {
  return values.reduce(multiplyDimensions, { coefficient: 1, symbols: [] });
}

export function formatDimension(value: Dimension): string {
  if (value.symbols.length === 0) return String(value.coefficient);
  const product = value.symbols.join("*");
  return value.coefficient === 1 ? product : `${value.coefficient}*${product}`;
}

export function formatShape(shape: readonly Dimension[]): string {
  return `[${shape.map(formatDimension).join(", ")}]`;
}
